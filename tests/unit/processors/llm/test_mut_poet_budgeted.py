"""POET calls under a budget go through the budget check each time (docs/efficiency.md): the send-back
and the verification are calls like the first, admitted against the step's hourly budget with the step
context's clock, and their spend is counted. Against the project's test server, with the scripted model
of test_poet_phases (its rules: a "fixable" claim first breaks share_ok, then is fixed when sent back).
A send-back or a verification call that fails fails the event, naming which call (the recovery takes over).
"""

from __future__ import annotations

import pytest

from dana_workflows.processors.llm import LLMClient, LLMProcessor
from dana_workflows.workflow.efficiency_ir import BudgetIR
from tests.fixtures.llm_server import LLMServerHandle
from tests.unit.processors.llm import test_poet_phases as phases
from tests.unit.processors.llm.test_poet_phases import asked, envelope, kinds, run_one, step, summary

pytestmark = pytest.mark.unit

llm_server = phases.llm_server
llm_server_script = phases.llm_server_script
client = phases.client


async def test_a_send_back_under_a_budget_is_admitted_and_counted(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step(budget=BudgetIR(tokens_per_hour=1_000_000)), "wf")
    result = await run_one(proc, client, envelope("fixable"), clock=5)
    assert asked(llm_server) == ["greedy", "send-back-fix"]
    assert ("enforce", "bypass+repaired") in kinds(result)
    s = summary(result)
    assert s["calls"] == {"combined": 1, "repair": 1} and s["settled_by"] == "call"
    ledger = client.efficiency.ledger("wf.decide", BudgetIR(tokens_per_hour=1_000_000))
    assert ledger.tokens == s["tokens"]["input"] + s["tokens"]["output"] > 0


async def test_a_verification_under_a_budget_is_admitted_and_counted(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    proc = LLMProcessor(step(budget=BudgetIR(tokens_per_hour=1_000_000)), "wf")
    result = await run_one(proc, client, envelope("fraud", amount=5000.0), clock=5)
    assert asked(llm_server) == ["fooled", "verify-fraud"]
    s = summary(result)
    assert s["calls"] == {"combined": 1, "verify": 1}
    ledger = client.efficiency.ledger("wf.decide", BudgetIR(tokens_per_hour=1_000_000))
    assert ledger.tokens == s["tokens"]["input"] + s["tokens"]["output"]


async def _process(proc: LLMProcessor, c: LLMClient, env: object) -> object:
    from dana_workflows.processors.base import StepContext

    return await proc.process(env, StepContext(clock=lambda: 0, llm=c))  # type: ignore[arg-type]


async def test_a_failed_send_back_call_fails_the_event_naming_the_rule(llm_server: LLMServerHandle) -> None:
    from dana_workflows.core.settings import LLMEndpoint
    from dana_workflows.processors.base import OutcomeKind
    from dana_workflows.processors.llm import RetryConfig

    llm_server.faults(server_error={"every": 2})  # the second request: the send-back
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=RetryConfig(max_attempts=1))
    try:
        out = await _process(LLMProcessor(step(), "wf"), c, envelope("fixable"))
    finally:
        await c.aclose()
    assert out.kind is OutcomeKind.FAIL  # type: ignore[attr-defined]
    assert out.error.startswith("llm step 'decide': the send-back for share_ok failed: all models failed: ")  # type: ignore[attr-defined]
    assert [(p.name, p.decision) for p in out.phases][-1] == ("enforce", "error")  # type: ignore[attr-defined]


async def test_a_failed_verification_call_fails_the_event(llm_server: LLMServerHandle) -> None:
    from dana_workflows.core.settings import LLMEndpoint
    from dana_workflows.processors.base import OutcomeKind
    from dana_workflows.processors.llm import RetryConfig

    llm_server.faults(server_error={"every": 2})  # the second request: the verification
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=RetryConfig(max_attempts=1))
    try:
        out = await _process(LLMProcessor(step(), "wf"), c, envelope("fraud", amount=5000.0))
    finally:
        await c.aclose()
    assert out.kind is OutcomeKind.FAIL  # type: ignore[attr-defined]
    assert out.error.startswith("llm step 'decide': the verification call failed: all models failed: ")  # type: ignore[attr-defined]
    assert [(p.name, p.decision) for p in out.phases][-1] == ("enforce", "error")  # type: ignore[attr-defined]
