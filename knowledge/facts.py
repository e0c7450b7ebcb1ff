"""A required fact resolved for one event, and where it sits in an index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    """Positions of the chunks that hold `fact`."""
    cands = index.candidates
    return [i for i in index.by_source.get(fact.source, []) if matches(cands[i].chunk.meta, fact.where)]
