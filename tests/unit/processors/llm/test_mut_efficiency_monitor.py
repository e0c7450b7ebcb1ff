"""Efficiency totals (processors/efficiency/monitor.py): every field summed, per step and overall.

From the docstring: a summary per llm step event; totals add calls by phase, avoided calls by mechanism,
how events were settled, risk decisions as "<tier>:<verify|bypass>", tokens, cost, the naive estimate and
budget alerts; a high-tier bypass is counted apart (it must stay 0).
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from dana_workflows.processors.efficiency.monitor import (
    EfficiencyCollector,
    EfficiencyMonitor,
    EfficiencyTotals,
    totals_of,
)

pytestmark = pytest.mark.unit

A = {
    "calls": {"combined": 1, "verify": 1},
    "avoided": {"cache": 2},
    "settled_by": "call",
    "tokens": {"input": 100, "output": 20},
    "cost_usd": 0.000123456789,
    "naive_calls": 3,
    "risk": {"tier": "high", "verify": False},
}
B = {
    "calls": {"combined": 2},
    "avoided": {"bypass": 1},
    "settled_by": "rules",
    "tokens": {"input": 5},
    "cost_usd": 0.5,
    "naive_calls": 1,
    "budget_alert": True,
    "risk": {"tier": "low", "verify": True},
}


def test_totals_add_every_field() -> None:
    t = totals_of([A, B, {}])
    assert t.events == 3
    assert t.calls == {"combined": 3, "verify": 1} and t.total_calls == 4
    assert t.avoided == {"cache": 2, "bypass": 1}
    assert t.settled_by == {"call": 1, "rules": 1, "": 1}
    assert t.decisions == {"high:bypass": 1, "low:verify": 1}
    assert (t.input_tokens, t.output_tokens, t.tokens) == (105, 20, 125)
    assert t.cost_usd == pytest.approx(0.500123456789)
    assert (t.naive_calls, t.budget_alerts, t.high_bypassed) == (4, 1, 1)
    assert t.to_json() == {
        "events": 3,
        "calls": 4,
        "calls_by_phase": {"combined": 3, "verify": 1},
        "avoided_by_mechanism": {"bypass": 1, "cache": 2},
        "settled_by": {"": 1, "call": 1, "rules": 1},
        "bypass_decisions": {"high:bypass": 1, "low:verify": 1},
        "input_tokens": 105,
        "output_tokens": 20,
        "cost_usd": 0.50012346,
        "naive_calls_estimate": 4,
        "budget_alerts": 1,
        "high_risk_bypassed": 1,
    }


def test_a_risk_that_is_not_a_mapping_adds_no_decision() -> None:
    t = EfficiencyTotals()
    t.add({"risk": "high"})
    assert t.decisions == {} and t.high_bypassed == 0 and t.events == 1


def test_the_monitor_keeps_steps_apart_and_totals_them_all() -> None:
    m = EfficiencyMonitor()
    m.observe("wf", "a", A)
    m.observe("wf", "b", B)
    m.observe("wf", "a", B)
    assert m.steps[("wf", "a")].events == 2 and m.steps[("wf", "b")].events == 1
    total = m.total()
    assert total.to_json() == totals_of([A, B, B]).to_json()


def test_the_collector_reports_every_phase_and_mechanism_with_zeros() -> None:
    m = EfficiencyMonitor()
    m.observe("wf", "a", A)
    registry = CollectorRegistry()
    registry.register(EfficiencyCollector(m))
    value = registry.get_sample_value
    base = {"workflow": "wf", "step": "a"}
    assert value("dwf_llm_phase_calls_total", {**base, "phase": "perceive"}) == 0
    assert value("dwf_llm_phase_calls_total", {**base, "phase": "verify"}) == 1
    assert value("dwf_llm_calls_avoided_total", {**base, "mechanism": "budget"}) == 0
    assert value("dwf_llm_calls_avoided_total", {**base, "mechanism": "cache"}) == 2
    assert value("dwf_llm_bypass_decisions_total", {**base, "tier": "high", "decision": "bypass"}) == 1
    assert value("dwf_llm_budget_alerts_total", base) == 0
