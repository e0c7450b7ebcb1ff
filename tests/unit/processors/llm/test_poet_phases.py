"""POET phases of the llm step against the project's LLM test server, through the real openai client.

The scripted model reads the conversation: what it is asked (the system message, the last user
message) and the claim in the prompt. Expected calls come from the protocol of each mode
(docs/efficiency.md), not from running it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint, Settings
from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.efficiency.state import EfficiencyState
from dana_workflows.processors.executor import execute
from dana_workflows.processors.llm import LLMClient, LLMProcessor
from dana_workflows.processors.pipeline import Edge, Node
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.efficiency_ir import BudgetIR, EfficiencyIR, KnownAnswerIR, RiskIR
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, RetryPolicyIR, RuleIR
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.llm_server import LLMServerHandle

pytestmark = pytest.mark.unit

llm_server = llm_server_plugin.llm_server

VERIFY = {"where": "system", "contains": ["You verify the answer"]}
PERCEIVE = {"where": "system", "contains": ["You check the input"]}
SEND_BACK = {"where": "last_user", "contains": ["breaks the objective 'share_ok'"]}
RULES: list[dict[str, Any]] = [
    {
        "name": "perceive-no",
        "match": [PERCEIVE, {"contains": ["no text"]}],
        "reply": {"proceed": False, "failed_check": "when"},
    },
    {
        "name": "perceive-old",
        "match": [PERCEIVE, {"contains": ["very old"]}],
        "reply": {"proceed": False, "failed_check": "recent"},
    },
    {"name": "perceive", "match": PERCEIVE, "reply": {"proceed": True, "failed_check": None}},
    {
        "name": "send-back-fix",
        "match": [SEND_BACK, {"contains": ["fixable"]}],
        "reply": {"decision": "approve", "share": 1.0, "confidence": 0.9},
    },
    {
        "name": "verify-fraud",
        "match": [VERIFY, {"contains": ["fraud"]}],
        "reply": {"decision": "deny", "share": 0.0, "confidence": 0.9},
    },
    {"name": "verify", "match": VERIFY, "reply": {"decision": "approve", "share": 1.0, "confidence": 0.9}},
    {
        "name": "greedy",
        "match": {"contains": ["fixable", "stubborn"]},
        "reply": {"decision": "approve", "share": 3.0, "confidence": 0.9},
    },
    {
        "name": "fooled",
        "match": {"contains": ["fraud"]},
        "reply": {"decision": "approve", "share": 1.0, "confidence": 0.95},
    },
    {
        "name": "unsure",
        "match": {"contains": ["unsure"]},
        "reply": {"decision": "approve", "share": 1.0, "confidence": 0.4},
    },
    {"name": "ok", "reply": {"decision": "approve", "share": 1.0, "confidence": 0.9}},
]


@pytest.fixture
def llm_server_script() -> Script:
    return Script.model_validate({"models": ["dwf-test-model"], "rules": RULES})


OUTPUT = (
    FieldIR(name="decision", type="string"),
    FieldIR(name="share", type="double"),
    FieldIR(name="confidence", type="double"),
)


def step(**efficiency: Any) -> LLMStepIR:
    return LLMStepIR(
        name="decide",
        prompt="Request {{ id }}: {{ text }} (amount {{ amount }})",
        output=OUTPUT,
        when="size(text) > 0",
        perceive=(RuleIR(id="recent", expr="age <= 90", message="too old"),),
        enforce=(
            RuleIR(
                id="share_ok", expr="share >= 0.0 && share <= 1.0", message="refund at most what was paid"
            ),
        ),
        efficiency=EfficiencyIR(risk=RiskIR(high=("amount > 1000.0",), confidence_floor=0.7), **efficiency),
        retry=RetryPolicyIR(max_attempts=1, on_exhausted="default", default={"decision": "review"}),
    )


def envelope(text: str, *, amount: float = 10.0, age: int = 5, n: int = 0) -> Envelope:
    payload = {"id": f"q{n}", "text": text, "amount": amount, "age": age}
    return Envelope(f"e{n}", f"r{n}", "wf", 1, "intake", payload)


@pytest.fixture
async def client(llm_server: LLMServerHandle) -> AsyncIterator[LLMClient]:
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url))
    yield c
    await c.aclose()


def node_for(proc: LLMProcessor) -> Node:
    return Node("decide", proc.step, proc, "in", emit=Edge("out", None))


async def run_one(proc: LLMProcessor, client: LLMClient, env: Envelope, clock: int = 0) -> Any:
    return await execute(node_for(proc), env, StepContext(clock=lambda: clock, llm=client))


def kinds(result: Any) -> list[tuple[str, str]]:
    return [(r.kind, r.decision) for r in result.rows]


def summary(result: Any) -> dict[str, Any]:
    row = next(r for r in result.rows if r.kind in ("emitted", "rejected", "error"))
    eff: dict[str, Any] = json.loads(row.details)["dwf.eff"]
    return eff


def asked(llm_server: LLMServerHandle) -> list[str]:
    return [e["rule"] for e in llm_server.log()]


async def test_optimised_audits_three_timed_phases_and_makes_one_call(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    result = await run_one(LLMProcessor(step(), "wf"), client, envelope("all good"))
    assert kinds(result) == [
        ("perceive", "pass"),
        ("operate", "call"),
        ("enforce", "bypass"),
        ("emitted", "pass"),
        ("completed", "out"),
    ]
    assert asked(llm_server) == ["ok"]  # one combined call; low risk, uncalibrated low tier: bypass
    s = summary(result)
    assert (
        s["calls"] == {"combined": 1}
        and s["avoided"] == {"bypass": 1, "combined": 1}
        and s["naive_calls"] == 3
    )
    assert s["risk"]["tier"] == "low" and s["risk"]["verify"] is False and "threshold" in s["risk"]
    assert result.envelope.payload["decision"] == "approve"


async def test_a_broken_objective_is_sent_back_once_naming_the_rule(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    result = await run_one(LLMProcessor(step(), "wf"), client, envelope("fixable"))
    assert asked(llm_server) == ["greedy", "send-back-fix"]
    last = llm_server.log()[-1]
    assert last["messages"] == 4  # system, prompt, the broken answer, the send-back
    assert result.envelope.payload["share"] == 1.0
    assert ("enforce", "bypass+repaired") in kinds(result)
    assert summary(result)["calls"] == {"combined": 1, "repair": 1}


async def test_still_broken_after_the_one_send_back_the_recovery_takes_over(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    result = await run_one(LLMProcessor(step(), "wf"), client, envelope("stubborn"))
    assert asked(llm_server) == ["greedy", "greedy"]  # exactly one send-back, never a second
    assert [k for k, _ in kinds(result)] == [
        "perceive",
        "operate",
        "enforce",
        "error",
        "recovery",
        "defaulted",
        "completed",
    ]
    assert result.envelope.payload["decision"] == "review"  # the step's declared default
    error = next(r for r in result.rows if r.kind == "error")
    assert "share_ok" in error.reason and "after one send-back" in error.reason
    rung = next(r for r in result.rows if r.kind == "recovery")  # the ladder names the class: enforce
    assert (rung.decision, rung.details) == ("default", '{"error_class":"enforce","succeeded":true}')


async def test_high_risk_is_verified_and_the_verification_corrects(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    result = await run_one(LLMProcessor(step(), "wf"), client, envelope("fraud", amount=5000.0))
    assert asked(llm_server) == ["fooled", "verify-fraud"]
    assert result.envelope.payload["decision"] == "deny"
    s = summary(result)
    assert s["risk"]["tier"] == "high" and s["risk"]["verify"] is True and s["first_correct"] is False
    assert ("enforce", "corrected") in kinds(result)


async def test_low_confidence_is_verified(llm_server: LLMServerHandle, client: LLMClient) -> None:
    result = await run_one(LLMProcessor(step(), "wf"), client, envelope("unsure"))
    assert asked(llm_server) == ["unsure", "verify"]
    assert summary(result)["risk"]["tier"] == "medium" and summary(result)["first_correct"] is True


async def test_symbols_settle_without_a_call(llm_server: LLMServerHandle, client: LLMClient) -> None:
    proc = LLMProcessor(
        step(known_answers=(KnownAnswerIR(when="amount == 7.0", output={"decision": "deny", "share": 0.0}),)),
        "wf",
    )
    skipped = await run_one(proc, client, envelope("", n=1))
    rejected = await run_one(proc, client, envelope("fine", age=400, n=2))
    known = await run_one(proc, client, envelope("fine", amount=7.0, n=3))
    assert llm_server.count() == 0
    assert kinds(skipped)[0] == ("perceive", "skip") and skipped.envelope.payload["decision"] is None
    assert rejected.boundary == "rejected" and kinds(rejected)[0] == ("perceive", "reject")
    assert "recent: too old" in rejected.reasons
    assert known.envelope.payload["decision"] == "deny" and ("operate", "known_answer") in kinds(known)
    assert [summary(r)["avoided"] for r in (skipped, rejected, known)] == [
        {"guard": 1},
        {"rules": 1},
        {"known_answer": 3},
    ]


async def test_naive_makes_perceive_operate_and_enforce_calls(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    client.efficiency = EfficiencyState("naive")
    proc = LLMProcessor(step(), "wf")
    ok = await run_one(proc, client, envelope("all good"))
    assert asked(llm_server) == ["perceive", "ok", "verify"]
    assert (
        summary(ok)["calls"] == {"enforce": 1, "operate": 1, "perceive": 1}
        and summary(ok)["naive_calls"] == 3
    )
    llm_server.reset_log()
    skipped = await run_one(proc, client, envelope("no text", n=1))  # the model says the step does not apply
    old = await run_one(proc, client, envelope("very old", n=2))  # the model names the failed check
    assert asked(llm_server) == ["perceive-no", "perceive-old"]
    assert skipped.envelope.payload["decision"] is None and old.boundary == "rejected"
    assert "recent: too old" in old.reasons
    llm_server.reset_log()
    again = await run_one(proc, client, envelope("all good"))  # naive has no cache
    assert llm_server.count() == 3 and again.envelope.payload == ok.envelope.payload


async def test_optimised_rerun_is_answered_from_the_cache(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step(), "wf")
    state: dict[str, Any] = {}
    ctx = StepContext(clock=lambda: 0, state=state, llm=client)
    first = await execute(node_for(proc), envelope("fraud", amount=5000.0), ctx)
    second = await execute(node_for(proc), envelope("fraud", amount=5000.0), ctx)
    assert llm_server.count() == 2  # the combined call and its verification, once
    assert second.envelope.payload == first.envelope.payload
    assert summary(second)["calls"] == {} and summary(second)["avoided"]["cache"] == 2


async def test_identical_events_in_flight_share_one_call(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.control(latency_ms=200)
    proc = LLMProcessor(step(), "wf")
    ctx = StepContext(clock=lambda: 0, llm=client)  # no shared cache: only coalescing can save the call
    outs = await asyncio.gather(
        *(proc.process(envelope("all good"), StepContext(clock=ctx.clock, llm=client)) for _ in range(3))
    )
    assert llm_server.count() == 1
    assert all(o.kind is OutcomeKind.EMIT for o in outs)
    assert sorted(o.details["dwf.eff"]["avoided"].get("coalescing", 0) for o in outs) == [0, 1, 1]


async def test_a_budget_spent_mid_run_takes_the_fallback_and_alerts(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    budget = BudgetIR(tokens_per_hour=1500, fallback={"decision": "review"})
    proc = LLMProcessor(step(budget=budget), "wf")
    results = [await run_one(proc, client, envelope(f"all good {i}", n=i), clock=i) for i in range(10)]
    decisions = [r.envelope.payload["decision"] for r in results]
    served = decisions.index("review")
    assert 0 < served < 9 and decisions[served:] == ["review"] * (10 - served)  # once spent, it stays spent
    assert llm_server.count() == served  # no call once the budget is spent
    alerts = [r for res in results for r in res.rows if r.kind == "alert"]
    assert len(alerts) == 1 and "1500 per hour" in json.loads(alerts[0].details)["reason"]
    assert summary(results[served])["settled_by"] == "budget" and summary(results[served])["budget_alert"]
    assert "budget_alert" not in summary(results[-1])  # the same exhaustion alerts once


async def test_a_budget_without_fallback_hands_over_to_the_recovery(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step(budget=BudgetIR(tokens_per_hour=10)), "wf")  # smaller than any call
    result = await run_one(proc, client, envelope("all good"))
    assert llm_server.count() == 0
    assert result.envelope.payload["decision"] == "review"  # retry default
    assert "budget" in next(r for r in result.rows if r.kind == "error").reason


async def test_the_setting_overrides_the_spec_mode(llm_server: LLMServerHandle) -> None:
    settings = Settings(llm_default=LLMEndpoint(base_url=llm_server.base_url), llm_efficiency="naive")
    c = LLMClient.from_settings(settings)
    try:
        proc = LLMProcessor(step(mode="optimised"), "wf")
        assert proc.mode(c) == "naive"
        await run_one(proc, c, envelope("all good"))
    finally:
        await c.aclose()
    assert llm_server.count() == 3


LOCAL_SPEC = """
workflow: wf
input: {id: string, text: string, amount: double, age: long}
steps:
  - decide:
      llm:
        prompt: "Request {{ id }}: {{ text }} (amount {{ amount }})"
        output: {decision: string, share: double, confidence: double}
        perceive: [{id: recent, rule: "age <= 90", message: too old}]
        enforce: [{id: share_ok, rule: "share >= 0.0 && share <= 1.0", message: refund at most what was paid}]
      retry: {max_attempts: 1, on_exhausted: default, default: {decision: review}}
"""


async def test_the_local_runtime_audits_the_phases_and_one_send_back(
    llm_server: LLMServerHandle, tmp_path: Any
) -> None:
    from tests.fixtures.local_runs import run_with_llm

    lines = [
        json.dumps({"id": "a", "text": "fixable", "amount": 5.0, "age": 1}),
        json.dumps({"id": "b", "text": "stubborn", "amount": 5.0, "age": 1}),
    ]
    run = await run_with_llm(
        LOCAL_SPEC, lines, tmp_path, LLMClient(LLMEndpoint(base_url=llm_server.base_url))
    )
    assert asked(llm_server) == ["greedy", "send-back-fix", "greedy", "greedy"]  # one send-back each
    by_run: dict[str, list[tuple[str, str]]] = {}
    for r in run.rows:
        if r.step == "decide":
            by_run.setdefault(r.run_id, []).append((r.kind, r.decision))
    journeys = sorted(by_run.values())
    assert [k for k, _ in journeys[0]] == ["perceive", "operate", "enforce", "emitted"]
    assert [k for k, _ in journeys[1]] == [
        "perceive",
        "operate",
        "enforce",
        "error",
        "recovery",
        "defaulted",
    ]
    assert sorted(r["payload"]["decision"] for r in run.read("out")) == ["approve", "review"]


async def test_naive_mode_does_not_coalesce(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.control(latency_ms=100)
    client.efficiency = EfficiencyState("naive")
    proc = LLMProcessor(step(), "wf")
    await asyncio.gather(
        *(proc.process(envelope("all good"), StepContext(clock=lambda: 0, llm=client)) for _ in range(2))
    )
    assert llm_server.count() == 6  # the baseline makes every call: 3 per event
