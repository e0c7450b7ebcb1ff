"""The performance monitor: calls per POET phase and per saving mechanism, live and from the audit.

Every llm step event carries one summary (``dwf.eff`` in its audit details, see processors/llm/poet.py).
``EfficiencyTotals`` adds summaries up (the live monitor of a worker and ``dana-wf efficiency report``
do the same sums), and ``EfficiencyCollector`` shows a monitor's totals as Prometheus counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

PHASES = ("perceive", "operate", "enforce", "combined", "verify", "repair")
MECHANISMS = ("rules", "cache", "guard", "known_answer", "combined", "bypass", "coalescing", "budget")
SUMMARY_KEY = "dwf.eff"


@dataclass(slots=True)
class EfficiencyTotals:
    events: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # by phase
    avoided: Counter[str] = field(default_factory=Counter)  # naive-equivalent calls, by mechanism
    settled_by: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)  # "<tier>:<verify|bypass>"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    naive_calls: int = 0  # what the naive protocol would have spent on the same events (an estimate)
    budget_alerts: int = 0
    high_bypassed: int = 0  # must stay 0

    def add(self, summary: Mapping[str, Any]) -> None:
        self.events += 1
        self.calls.update({k: int(v) for k, v in (summary.get("calls") or {}).items()})
        self.avoided.update({k: int(v) for k, v in (summary.get("avoided") or {}).items()})
        self.settled_by[str(summary.get("settled_by", ""))] += 1
        tokens = summary.get("tokens") or {}
        self.input_tokens += int(tokens.get("input", 0))
        self.output_tokens += int(tokens.get("output", 0))
        self.cost_usd += float(summary.get("cost_usd", 0.0))
        self.naive_calls += int(summary.get("naive_calls", 0))
        if summary.get("budget_alert"):
            self.budget_alerts += 1
        risk = summary.get("risk")
        if isinstance(risk, Mapping):
            tier = str(risk.get("tier"))
            verify = bool(risk.get("verify"))
            self.decisions[f"{tier}:{'verify' if verify else 'bypass'}"] += 1
            if tier == "high" and not verify:
                self.high_bypassed += 1

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "calls": self.total_calls,
            "calls_by_phase": dict(sorted(self.calls.items())),
            "avoided_by_mechanism": dict(sorted(self.avoided.items())),
            "settled_by": dict(sorted(self.settled_by.items())),
            "bypass_decisions": dict(sorted(self.decisions.items())),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "naive_calls_estimate": self.naive_calls,
            "budget_alerts": self.budget_alerts,
            "high_risk_bypassed": self.high_bypassed,
        }


def totals_of(summaries: Iterable[Mapping[str, Any]]) -> EfficiencyTotals:
    t = EfficiencyTotals()
    for s in summaries:
        t.add(s)
    return t


class EfficiencyMonitor:
    """A worker's live totals per (workflow, step); the LLM client holds one, shared by its steps."""

    def __init__(self) -> None:
        self.steps: dict[tuple[str, str], EfficiencyTotals] = {}

    def observe(self, workflow: str, step: str, summary: Mapping[str, Any]) -> None:
        totals = self.steps.get((workflow, step))
        if totals is None:
            totals = self.steps[(workflow, step)] = EfficiencyTotals()
        totals.add(summary)

    def total(self) -> EfficiencyTotals:
        out = EfficiencyTotals()
        for t in self.steps.values():
            out.events += t.events
            out.calls.update(t.calls)
            out.avoided.update(t.avoided)
            out.settled_by.update(t.settled_by)
            out.decisions.update(t.decisions)
            out.input_tokens += t.input_tokens
            out.output_tokens += t.output_tokens
            out.cost_usd += t.cost_usd
            out.naive_calls += t.naive_calls
            out.budget_alerts += t.budget_alerts
            out.high_bypassed += t.high_bypassed
        return out


class EfficiencyCollector(Collector):
    """The monitor as Prometheus counters (register on a worker's registry)."""

    def __init__(self, monitor: EfficiencyMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = ["workflow", "step"]
        calls = CounterMetricFamily(
            "dwf_llm_phase_calls", "Model calls by POET phase.", labels=[*labels, "phase"]
        )
        avoided = CounterMetricFamily(
            "dwf_llm_calls_avoided",
            "Calls the naive protocol would have made, avoided, by saving mechanism.",
            labels=[*labels, "mechanism"],
        )
        decisions = CounterMetricFamily(
            "dwf_llm_bypass_decisions",
            "Risk assessor decisions by tier.",
            labels=[*labels, "tier", "decision"],
        )
        alerts = CounterMetricFamily(
            "dwf_llm_budget_alerts", "Budget exhaustions (alerts raised).", labels=labels
        )
        for (workflow, step), t in sorted(self.monitor.steps.items()):
            for phase in PHASES:
                calls.add_metric([workflow, step, phase], t.calls.get(phase, 0))
            for mechanism in MECHANISMS:
                avoided.add_metric([workflow, step, mechanism], t.avoided.get(mechanism, 0))
            for key, n in sorted(t.decisions.items()):
                tier, decision = key.split(":", 1)
                decisions.add_metric([workflow, step, tier, decision], n)
            alerts.add_metric([workflow, step], t.budget_alerts)
        yield from (calls, avoided, decisions, alerts)
