"""What inference offers: a rule in CEL and the evidence a reviewer needs to accept or refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INPUT_TARGET = "input"


@dataclass(slots=True)
class Candidate:
    """A rule a profiler, a domain pack or a model suggests, before it is checked and tested."""

    id: str
    rule: str
    profile: str  # completeness | types | range | domain | pattern | relation | pack:<name> | llm
    fields: tuple[str, ...]
    message: str
    basis: str  # what the profile saw, in a phrase: "quantiles 0.5%..99.5% of 300 values, +25%"
    strength: float = 1.0  # the profile's own belief in [0, 1], before support is counted
    support: int = 0  # events the profile drew on
    kind: str = ""  # what the rule constrains about its first field: range | domain | pattern | present ...
    refine: dict[str, Any] = field(default_factory=dict)  # what refinement may widen (bounds, values)


@dataclass(slots=True)
class Proposal:
    """A checked candidate with its evidence; only these are ever offered."""

    id: str
    target: str  # "input" or "step:<dotted step path>"
    rule: str
    message: str
    profile: str
    fields: tuple[str, ...]
    basis: str
    support: int
    sample_violations: int
    holdout_violations: int
    confidence: float
    notes: list[str] = field(default_factory=list)  # refinement: what changed, and which event made it
    kind: str = ""  # the candidate's kind (range, sum, product, ...): which rules another one makes moot

    def evidence(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "basis": self.basis,
            "support": self.support,
            "sample_violations": self.sample_violations,
            "holdout_violations": self.holdout_violations,
            "confidence": round(self.confidence, 3),
            **({"notes": list(self.notes)} if self.notes else {}),
        }


@dataclass(slots=True)
class Observation:
    """What the sample shows but no per-event rule can enforce (uniqueness across events)."""

    target: str
    field: str
    kind: str
    detail: str


def step_target(path: str) -> str:
    return f"step:{path}"
