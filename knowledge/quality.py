"""Quality of a source and of each of its chunks: declared trust, freshness, completeness, duplication.

A chunk's score is the product of four factors in [0, 1], so any one of them can sink it:
trust (declared per source), freshness (1 within the source's ``max_age_days``, then max_age/age),
completeness (the share of the declared ``shape`` fields its metadata holds) and uniqueness (1 for the
first copy of a text, 0.5 for every later copy, across all sources). A source's score is its chunks'
mean; below ``LOW`` it is flagged, with every reason that applies.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

LOW = 0.5
DUPLICATE_FACTOR = 0.5
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class ChunkQuality:
    score: float
    trust: float
    freshness: float
    completeness: float
    uniqueness: float
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "trust": self.trust,
            "freshness": round(self.freshness, 4),
            "completeness": round(self.completeness, 4),
            "uniqueness": self.uniqueness,
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class SourceQuality:
    source: str
    score: float
    chunks: dict[str, ChunkQuality] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    @property
    def low(self) -> bool:
        return self.score < LOW

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "low": self.low,
            "reasons": list(self.reasons),
            "chunks": {k: v.as_dict() for k, v in self.chunks.items()},
        }


def _fingerprint(text: str) -> str:
    body = text.split("\n", 1)[-1]  # the first line is the title/heading the reader added
    return hashlib.sha256(re.sub(r"\s+", " ", body.lower()).strip().encode()).hexdigest()


def freshness(updated_us: int, max_age_days: float | None, now_us: int) -> float:
    if max_age_days is None or updated_us <= 0:
        return 1.0
    age_days = max(0.0, (now_us - updated_us) / _US_PER_DAY)
    return 1.0 if age_days <= max_age_days else max_age_days / age_days


def score_sources(
    sources: Mapping[str, KnowledgeSourceIR], chunks: Mapping[str, Sequence[Chunk]], now_us: int
) -> dict[str, SourceQuality]:
    """Quality of every source in `chunks` (the declarations in `sources`); duplicates across all."""
    first_seen: set[str] = set()
    out: dict[str, SourceQuality] = {}
    for name in sorted(chunks):
        src = sources[name]
        per: dict[str, ChunkQuality] = {}
        dups = stale = incomplete = 0
        missing_fields: set[str] = set()
        for c in chunks[name]:
            fp = _fingerprint(c.text)
            unique = 1.0 if fp not in first_seen else DUPLICATE_FACTOR
            first_seen.add(fp)
            fresh = freshness(c.updated_us, src.max_age_days, now_us)
            missing = tuple(f for f in src.shape if c.meta.get(f) in (None, ""))
            complete = 1.0 - len(missing) / len(src.shape) if src.shape else 1.0
            dups += unique < 1.0
            stale += fresh < 1.0
            incomplete += bool(missing)
            missing_fields.update(missing)
            per[c.chunk_id] = ChunkQuality(
                src.trust * fresh * complete * unique, src.trust, fresh, complete, unique, missing
            )
        n = len(per)
        score = sum(q.score for q in per.values()) / n if n else 0.0
        reasons = []
        if n == 0:
            reasons.append("no chunks")
        if src.trust < LOW:
            reasons.append(f"declared trust {src.trust}")
        if stale:
            reasons.append(f"{stale} of {n} chunks older than max_age_days ({src.max_age_days})")
        if incomplete:
            reasons.append(
                f"{incomplete} of {n} chunks miss shape fields ({', '.join(sorted(missing_fields))})"
            )
        if dups:
            reasons.append(f"{dups} of {n} chunks duplicate other chunks")
        out[name] = SourceQuality(name, score, per, tuple(reasons))
    return out
