"""The POET step's edges: failures of each phase go to the step's recovery with a message naming the
phase; warn rules and the model's doubts raise the risk tier instead of rejecting."""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.efficiency.state import EfficiencyState
from dana_workflows.processors.llm import LLMClient, LLMProcessor
from dana_workflows.workflow.efficiency_ir import BudgetIR, KnownAnswerIR
from dana_workflows.workflow.ir import RuleIR
from tests.fixtures.llm_server import LLMServerHandle
from tests.unit.processors.llm import test_poet_phases as phases
from tests.unit.processors.llm.test_poet_phases import envelope, kinds, run_one, step, summary

pytestmark = pytest.mark.unit

llm_server = phases.llm_server
client = phases.client
DOUBT = {"where": "system", "contains": ["dwf_input_ok"]}


@pytest.fixture
def llm_server_script() -> Script:
    rules: list[dict[str, Any]] = [
        {
            "name": "doubt",
            "match": [DOUBT, {"contains": ["odd"]}],
            "reply": {"decision": "approve", "share": 1.0, "confidence": 0.9, "dwf_input_ok": False},
        },
        *phases.RULES,
    ]
    return Script.model_validate({"models": ["dwf-test-model"], "rules": rules})


def error_reason(result: Any) -> str:
    return str(next(r for r in result.rows if r.kind == "error").reason)


async def test_a_guard_that_fails_on_the_event_is_a_step_failure(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step().model_copy(update={"when": "size(missing) > 0"}), "wf")
    result = await run_one(proc, client, envelope("x"))
    assert "'when' failed on this event" in error_reason(result) and llm_server.count() == 0


async def test_a_prompt_that_cannot_render_is_a_step_failure(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step().model_copy(update={"prompt": "{{ nothere }}"}), "wf")
    result = await run_one(proc, client, envelope("x"))
    assert "available:" in error_reason(result) and llm_server.count() == 0
    client.efficiency = EfficiencyState("naive")
    naive = await run_one(proc, client, envelope("x"))
    assert "available:" in error_reason(naive) and llm_server.count() == 0


async def test_a_known_answer_that_breaks_an_objective_says_so(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    bad = KnownAnswerIR(when="amount == 7.0", output={"decision": "approve", "share": 5.0})
    result = await run_one(LLMProcessor(step(known_answers=(bad,)), "wf"), client, envelope("x", amount=7.0))
    assert "known answer 0 breaks share_ok" in error_reason(result) and llm_server.count() == 0


async def test_warn_rules_and_the_models_doubt_raise_the_tier(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    warned = step().model_copy(
        update={"perceive": (RuleIR(id="short", expr="size(text) < 5", severity="warn"),)}
    )
    result = await run_one(LLMProcessor(warned, "wf"), client, envelope("long enough text"))
    s = summary(result)
    assert s["risk"]["tier"] == "medium" and s["risk"]["verify"] is True  # an anomaly, then verified
    assert any("rule short failed (warn)" in r for r in s["risk"]["reasons"])
    llm_server.reset_log()
    doubted = await run_one(LLMProcessor(step(), "wf"), client, envelope("odd request", n=1))
    assert [e["rule"] for e in llm_server.log()] == ["doubt", "verify"]
    assert any("input is not ok" in r for r in summary(doubted)["risk"]["reasons"])


async def test_naive_warn_check_the_model_names_does_not_reject(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    client.efficiency = EfficiencyState("naive")
    warned = step().model_copy(update={"perceive": (RuleIR(id="recent", expr="age <= 90", severity="warn"),)})
    result = await run_one(LLMProcessor(warned, "wf"), client, envelope("very old", age=400))
    assert result.boundary == "out" and llm_server.count() == 3
    assert summary(result)["risk"]["tier"] == "medium"


async def test_endpoint_failures_in_each_phase_go_to_recovery(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.faults(bad_request={"always": True})  # a 400 is never retried: one request per call
    opt = await run_one(LLMProcessor(step(), "wf"), client, envelope("all good"))
    assert "HTTP 400" in error_reason(opt) and opt.envelope.payload["decision"] == "review"
    assert ("operate", "error") in kinds(opt)
    client.efficiency = EfficiencyState("naive")
    naive = await run_one(LLMProcessor(step(), "wf"), client, envelope("all good", n=1))
    assert "the perceive call failed" in error_reason(naive) and ("perceive", "error") in kinds(naive)


async def test_a_failing_verification_or_send_back_goes_to_recovery(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.faults(bad_request={"every": 2})  # the first request answers, the second fails
    verified = await run_one(LLMProcessor(step(), "wf"), client, envelope("fraud", amount=5000.0))
    assert "the verification call failed" in error_reason(verified)
    sent_back = await run_one(LLMProcessor(step(), "wf"), client, envelope("fixable", n=1))
    assert "the send-back for share_ok failed" in error_reason(sent_back)


async def test_budget_spent_at_the_naive_perceive_call(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    client.efficiency = EfficiencyState("naive")
    proc = LLMProcessor(step(budget=BudgetIR(tokens_per_hour=10, fallback={"decision": "review"})), "wf")
    result = await run_one(proc, client, envelope("all good"))
    assert llm_server.count() == 0 and result.envelope.payload["decision"] == "review"
    assert summary(result)["avoided"] == {"budget": 1}  # naive would have stopped there too: one call
    assert ("alert", "budget_exhausted") in kinds(result)


async def test_no_client_in_the_context(llm_server: LLMServerHandle) -> None:
    proc = LLMProcessor(step(), "wf")
    out = await proc.process(envelope("all good"), StepContext(clock=lambda: 0))
    assert out.error is not None and "no LLM client" in out.error


async def test_a_workflow_budget_is_shared_by_its_steps_and_costs_come_from_the_price_table(
    llm_server: LLMServerHandle,
) -> None:
    from dana_workflows.core.settings import LLMEndpoint

    # $1 per 1k tokens: one call's reservation (prompt estimate + 512 max tokens) costs ~$0.6
    priced = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, price_per_mtok={"input": 1000.0, "output": 1000.0})
    )
    shared = BudgetIR(cost_per_hour=0.8, fallback={"decision": "review"})
    first = LLMProcessor(
        step().model_copy(
            update={"efficiency": step().efficiency.model_copy(update={"workflow_budget": shared})}
        ),
        "wf",
    )
    other = step().model_copy(update={"name": "second"})
    second = LLMProcessor(
        other.model_copy(
            update={"efficiency": other.efficiency.model_copy(update={"workflow_budget": shared})}
        ),
        "wf",
    )
    try:
        a = await run_one(first, priced, envelope("all good"))
        b = await run_one(second, priced, envelope("all good", n=1))
    finally:
        await priced.aclose()
    assert a.envelope.payload["decision"] == "approve" and json_cost(a) > 0
    assert b.envelope.payload["decision"] == "review"  # the other step's spend counts against the workflow
    assert llm_server.count() == 1 and summary(b)["settled_by"] == "budget"
    reason = next(r for r in b.rows if r.kind == "alert").details
    assert "budget wf:" in reason and "0.8 per hour" in reason  # the workflow's ledger, in dollars


def json_cost(result: Any) -> float:
    return float(summary(result)["cost_usd"])


async def test_a_known_answer_is_not_used_for_a_high_risk_event(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    known = KnownAnswerIR(
        when="text == 'fraud'", output={"decision": "approve", "share": 1.0, "confidence": 1.0}
    )
    proc = LLMProcessor(step(known_answers=(known,)), "wf")
    low = await run_one(proc, client, envelope("fraud", amount=10.0))
    assert llm_server.count() == 0 and low.envelope.payload["decision"] == "approve"
    high = await run_one(proc, client, envelope("fraud", amount=5000.0, n=1))  # high tier: asked and verified
    assert [e["rule"] for e in llm_server.log()] == ["fooled", "verify-fraud"]
    assert high.envelope.payload["decision"] == "deny" and summary(high)["risk"]["verify"] is True
