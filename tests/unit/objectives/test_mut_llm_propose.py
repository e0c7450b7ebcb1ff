"""Asking a model for rules (objectives/llm_proposals.py ``prompt_for`` and ``propose``), with a fake client.

From the module: the prompt names the workflow, its goal, the target, what the step says about itself
(an llm step's instructions, a transform's expressions) and every field with its type (``?`` when
optional) and up to five example values; the request goes to the one model asked, with the module's
system prompt and output, and room for 800 tokens of rules; a failed call gives no rules and its error.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.objectives.infer import Boundary
from dana_workflows.objectives.llm_proposals import OUTPUT, SYSTEM, prompt_for, propose
from dana_workflows.objectives.sample import Sample
from dana_workflows.processors.llm import LLMRequest
from dana_workflows.processors.llm.client import LLMResult
from dana_workflows.workflow.ir import DeriveIR, FieldIR, LLMStepIR, ObjectiveIR, TransformStepIR, WorkflowIR

pytestmark = pytest.mark.unit

AMOUNT = FieldIR(name="amount", type="double")
NOTE = FieldIR(name="note", type="string", optional=True)


def _ir() -> WorkflowIR:
    return WorkflowIR(
        name="claims",
        description="Claims intake.",
        input=(AMOUNT, NOTE),
        objective=ObjectiveIR(goal="pay fair claims"),
        steps=(
            TransformStepIR(
                name="t", derive=(DeriveIR(field="double_amount", expr="amount * 2.0", type="double"),)
            ),
            LLMStepIR(
                name="judge",
                system="You   judge.",
                prompt="Claim {{ amount }}",
                output=(FieldIR(name="d", type="string"),),
            ),
        ),
    )


def _boundary(target: str = "input") -> Boundary:
    events = [{"amount": float(i), "note": None if i % 2 else "n"} for i in range(7)]
    s = Sample("s", events)
    return Boundary(target, {"amount": AMOUNT, "note": NOTE}, s, Sample("h", []))


def test_the_prompt_names_the_workflow_goal_target_and_fields_with_five_examples() -> None:
    text = prompt_for(_ir(), _boundary())
    assert text.split("\n") == [
        "Workflow: claims. Claims intake.",
        "Goal: pay fair claims",
        "Rules for: input",
        "Fields (name: type, example values):",
        "- amount: double, e.g. [0.0, 1.0, 2.0, 3.0, 4.0]",
        "- note: string?, e.g. ['n', None, 'n', None, 'n']",
    ]


def test_a_step_target_says_what_the_step_does() -> None:
    assert "The step asks a model: You judge. Claim {{ amount }}" in prompt_for(
        _ir(), _boundary("step:judge")
    )
    assert "The step computes: double_amount = amount * 2.0" in prompt_for(_ir(), _boundary("step:t"))
    ir = _ir().model_copy(update={"objective": ObjectiveIR(), "description": ""})
    assert prompt_for(ir, _boundary()).split("\n")[:2] == ["Workflow: claims.", "Rules for: input"]


class FakeClient:
    def __init__(self, result: LLMResult) -> None:
        self.result = result
        self.requests: list[LLMRequest] = []

    async def complete(self, req: LLMRequest, **kw: Any) -> LLMResult:
        self.requests.append(req)
        return self.result


async def test_propose_asks_the_model_with_room_for_the_rules() -> None:
    client = FakeClient(LLMResult(output={"rules": "pos | amount > 0.0 | positive\nnonsense"}, audit={}))
    cands, error = await propose(client, _ir(), _boundary(), "big-model")  # type: ignore[arg-type]
    assert error == "" and [(c.id, c.rule, c.message) for c in cands] == [("pos", "amount > 0.0", "positive")]
    (req,) = client.requests
    assert req.models == ("big-model",) and req.max_tokens == 800
    assert req.system == SYSTEM and req.output is OUTPUT and req.prompt == prompt_for(_ir(), _boundary())


async def test_a_failed_call_gives_no_rules_and_its_error() -> None:
    failed = FakeClient(LLMResult(output=None, audit={}, error="all models failed: x"))
    assert await propose(failed, _ir(), _boundary(), "m") == ([], "all models failed: x")  # type: ignore[arg-type]
    empty = FakeClient(LLMResult(output={"rules": None}, audit={}))
    assert await propose(empty, _ir(), _boundary(), "m") == ([], "")  # type: ignore[arg-type]
