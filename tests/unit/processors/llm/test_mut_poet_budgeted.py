"""POET calls under a budget go through the budget check each time (docs/efficiency.md): the send-back
and the verification are calls like the first, admitted against the step's hourly budget with the step
context's clock, and their spend is counted. Against the project's test server, with the scripted model
of test_poet_phases (its rules: a "fixable" claim first breaks share_ok, then is fixed when sent back).
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
