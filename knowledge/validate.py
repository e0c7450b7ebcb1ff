"""Validation before the call: are the facts a step requires in the context, and are they current?

A fact is missing when no chunk of its source has the metadata its ``where`` names for this event (or
none fits the budget); it is stale when the version in use is not the source's latest synced version
(the source changed after this worker loaded it, or a replay pins an older version).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dana_workflows.knowledge.facts import Fact, find_fact
from dana_workflows.knowledge.index import ChunkIndex


@dataclass(frozen=True, slots=True)
class FactCheck:
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    found: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fact id -> chunk ids

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale


def check_facts(
    index: ChunkIndex, facts: Sequence[Fact], latest: Mapping[str, str] | None = None
) -> FactCheck:
    """Missing and stale required facts; `latest` maps chunk id -> its newest stored version."""
    missing: list[str] = []
    stale: list[str] = []
    found: dict[str, tuple[str, ...]] = {}
    for fact in facts:
        hits = [index.candidates[i].chunk for i in find_fact(index, fact)]
        found[fact.id] = tuple(c.chunk_id for c in hits)
        if not hits:
            missing.append(fact.id)
        elif latest is not None and any(latest.get(c.chunk_id, c.version) != c.version for c in hits):
            stale.append(fact.id)
    return FactCheck(tuple(missing), tuple(stale), found)
