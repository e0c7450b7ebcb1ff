"""A required fact resolved for one event, and where it sits in an index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dana_workflows.knowledge.index import ChunkIndex


@dataclass(frozen=True, slots=True)
class Fact:
    """Chunks of `source` whose metadata equal `where` (values from the event)."""

    id: str
    source: str
    where: Mapping[str, Any]


def matches(meta: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    return all(k in meta and str(meta[k]) == str(v) for k, v in where.items())


def find_fact(index: ChunkIndex, fact: Fact) -> list[int]:
    """Positions of the chunks that hold `fact` (one vectorised pass per metadata field)."""
    if fact.source not in index.by_source:
        return []
    mask = index.in_sources(frozenset({fact.source}))
    for name, value in fact.where.items():
        has, values = index.field(name)
        mask &= has & (values == str(value))
    return [int(i) for i in np.flatnonzero(mask)]
