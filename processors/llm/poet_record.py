"""What one llm step did for one event: its timed POET phases, its calls, and the efficiency summary.

The phases become audit rows of their own (kind ``perceive``, ``operate``, ``enforce``) before the
step's transition row; the summary goes into that row's details under ``dwf.eff`` and feeds the
performance monitor. ``naive_calls`` is what the naive protocol spends on the same event (a perceive
call, and when it proceeds an operate and an enforce call, plus the same repairs), so ``avoided`` adds
up, mechanism by mechanism, to the difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from dana_workflows.processors.base import Phase


@dataclass(slots=True)
class EventRecord:
    mode: str
    step: str
    phases: list[Phase] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    avoided: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    settled_by: str = "call"
    proceeded: bool = True  # past perceive: naive would have made the operate and enforce calls
    repairs: int = 0
    risk: dict[str, Any] | None = None
    first_correct: bool | None = None  # the first answer, as verification judged it
    confidence: float | None = None
    budget_alert: bool = False
    _t0: int = field(default_factory=perf_counter_ns)

    def phase(self, name: str, decision: str, **details: Any) -> None:
        """Close the current phase (timed from the end of the previous one)."""
        now = perf_counter_ns()
        self.phases.append(Phase(name, decision, (now - self._t0) // 1000, details))
        self._t0 = now

    def used(self, phase: str, audit: dict[str, Any]) -> None:
        """Count a call that went on the wire (its attempts: retries and format repairs included)."""
        self.calls[phase] += int(audit.get("dwf.llm.attempts") or 0)
        self.input_tokens += int(audit.get("gen_ai.usage.input_tokens") or 0)
        self.output_tokens += int(audit.get("gen_ai.usage.output_tokens") or 0)
        self.cost_usd += float(audit.get("dwf.llm.cost_usd") or 0.0)

    @property
    def naive_calls(self) -> int:
        return 1 + (2 + self.repairs if self.proceeded else 0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "step": self.step,
            "calls": dict(sorted(self.calls.items())),
            "avoided": dict(sorted(self.avoided.items())),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_usd": round(self.cost_usd, 8),
            "settled_by": self.settled_by,
            "naive_calls": self.naive_calls,
        }
        if self.risk is not None:
            out["risk"] = self.risk
        if self.first_correct is not None:
            out["first_correct"] = self.first_correct
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.budget_alert:
            out["budget_alert"] = True
        return out


def call_fields_of(audit: Mapping[str, Any]) -> dict[str, Any]:
    """What a phase row records of the call it made."""
    keys = (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "dwf.llm.attempts",
        "dwf.llm.cache_hit",
        "dwf.llm.model_used",
        "dwf.llm.latency_ms",
        "dwf.llm.cost_usd",
    )
    return {k: audit[k] for k in keys if k in audit}
