"""Budgets refuse before an overrun and alert once per exhaustion; identical calls in flight go once;
the monitor adds summaries up and shows them as Prometheus counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from dana_workflows.processors.efficiency.budget import HOUR_US, BudgetLedger, Refused, Reservation
from dana_workflows.processors.efficiency.coalesce import Coalescer
from dana_workflows.processors.efficiency.monitor import EfficiencyCollector, EfficiencyMonitor, totals_of
from dana_workflows.workflow.efficiency_ir import BudgetIR

pytestmark = pytest.mark.unit


def test_tokens_budget_refuses_the_call_that_would_pass_it_and_alerts_once() -> None:
    ledger = BudgetLedger(BudgetIR(tokens_per_hour=1000), "wf.step")
    first = ledger.admit(0, 600, 0.0)
    assert isinstance(first, Reservation)
    first.settle(500, 0.0)  # used less than reserved
    assert isinstance(ledger.admit(1, 500, 0.0), Reservation)  # 500 + 500 = 1000: fits exactly
    refused = ledger.admit(2, 1, 0.0)
    assert isinstance(refused, Refused) and refused.alert and "1000 per hour" in refused.reason
    again = ledger.admit(3, 1, 0.0)
    assert isinstance(again, Refused) and not again.alert  # the same exhaustion alerts once
    assert ledger.alerts == 1
    # an hour after the first spend it has left the window
    assert isinstance(ledger.admit(HOUR_US + 1, 400, 0.0), Reservation)
    assert not ledger.exhausted


def test_cost_budget_counts_dollars() -> None:
    ledger = BudgetLedger(BudgetIR(cost_per_hour=0.01), "wf")
    assert isinstance(ledger.admit(0, 10, 0.006), Reservation)
    refused = ledger.admit(0, 10, 0.006)
    assert isinstance(refused, Refused) and "$" in refused.reason


async def until(condition: Callable[[], bool], turns: int = 100) -> None:
    """Let the tasks run (scheduling turns, not time) until ``condition`` holds; fail if it never does."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the callers never got there")


async def test_identical_requests_in_flight_are_sent_once() -> None:
    coalescer: Coalescer[str] = Coalescer()
    sent: list[str] = []
    gate = asyncio.Event()

    async def call(key: str) -> str:
        sent.append(key)
        await gate.wait()
        return f"answer {key}"

    async def ask(key: str) -> tuple[str, bool]:
        return await coalescer.run(key, lambda: call(key))

    tasks = [asyncio.create_task(ask(k)) for k in ("a", "a", "a", "b")]
    await until(lambda: coalescer.coalesced == 2)  # both later "a" callers joined the first
    assert coalescer.in_flight == 2
    assert sent == ["a", "b"]
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sent == ["a", "b"]
    assert [r[0] for r in results] == ["answer a"] * 3 + ["answer b"]
    assert sorted(r[1] for r in results) == [False, False, True, True]
    assert coalescer.coalesced == 2 and coalescer.in_flight == 0
    # after it finished, the same request is sent again (coalescing is not a cache)
    gate.set()
    assert await ask("a") == ("answer a", False)


async def test_a_failed_shared_call_fails_every_sharer() -> None:
    coalescer: Coalescer[str] = Coalescer()
    gate = asyncio.Event()

    async def boom() -> str:
        await gate.wait()
        raise RuntimeError("provider down")

    tasks = [asyncio.create_task(coalescer.run("k", boom)) for _ in range(2)]
    await until(lambda: coalescer.coalesced == 1)  # the second caller shares the first one's call
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


SUMMARIES = [
    {
        "step": "s",
        "calls": {"combined": 1},
        "avoided": {"combined": 1, "bypass": 1},
        "settled_by": "call",
        "tokens": {"input": 100, "output": 20},
        "naive_calls": 3,
        "risk": {"tier": "low", "verify": False},
    },
    {
        "step": "s",
        "calls": {"combined": 1, "verify": 1},
        "avoided": {"combined": 1},
        "settled_by": "call",
        "tokens": {"input": 200, "output": 40},
        "naive_calls": 3,
        "risk": {"tier": "high", "verify": True},
    },
    {
        "step": "s",
        "calls": {},
        "avoided": {"guard": 1},
        "settled_by": "guard",
        "tokens": {"input": 0, "output": 0},
        "naive_calls": 1,
        "budget_alert": True,
    },
]


def test_totals_and_prometheus_counters() -> None:
    t = totals_of(SUMMARIES)
    assert (t.events, t.total_calls, t.tokens, t.naive_calls) == (3, 3, 360, 7)
    assert t.avoided == {"combined": 2, "bypass": 1, "guard": 1}
    assert t.decisions == {"low:bypass": 1, "high:verify": 1} and t.high_bypassed == 0
    assert t.to_json()["budget_alerts"] == 1
    monitor = EfficiencyMonitor()
    for s in SUMMARIES:
        monitor.observe("wf", "s", s)
    registry = CollectorRegistry()
    registry.register(EfficiencyCollector(monitor))
    value = registry.get_sample_value
    assert value("dwf_llm_phase_calls_total", {"workflow": "wf", "step": "s", "phase": "verify"}) == 1
    assert value("dwf_llm_phase_calls_total", {"workflow": "wf", "step": "s", "phase": "combined"}) == 2
    assert value("dwf_llm_calls_avoided_total", {"workflow": "wf", "step": "s", "mechanism": "guard"}) == 1
    labels = {"workflow": "wf", "step": "s", "tier": "high", "decision": "verify"}
    assert value("dwf_llm_bypass_decisions_total", labels) == 1
    assert value("dwf_llm_budget_alerts_total", {"workflow": "wf", "step": "s"}) == 1
    assert monitor.total().total_calls == 3
