"""Asking a model for rules (objectives/llm_proposals.py ``prompt_for`` and ``propose``), with a fake client.

From the module: the prompt names the workflow, its goal, what the step says about itself (an llm
step's instructions, a transform's expressions), the target and every field with its type ("or null"
when optional) and up to `llm_examples` distinct example values; the request goes to the one model asked,
after a worked example, with the module's system prompt and output, `llm_max_tokens` of room and
`llm_timeout_s`; a failed call gives no rules and a note naming the model and its URL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.objectives.infer import Boundary
from dana_workflows.objectives.llm_proposals import (
    EXAMPLE_PROMPT,
    EXAMPLE_RULES,
    OUTPUT,
    SYSTEM,
    Answer,
    prompt_for,
    propose,
)
from dana_workflows.objectives.sample import Sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.processors.llm import LLMClient, LLMRequest
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


def test_the_prompt_names_the_workflow_goal_target_and_fields_with_three_distinct_examples() -> None:
    text, left_out = prompt_for(_ir(), _boundary())
    assert left_out == []
    assert text.split("\n") == [
        "Workflow: claims. Claims intake.",
        "Goal: pay fair claims",
        "Rules for: input",
        "Fields (name: type, example values):",
        "- amount: double, e.g. 0.0, 1.0, 2.0",
        "- note: string or null, e.g. n",
    ]


def test_a_step_target_says_what_the_step_does() -> None:
    assert (
        "The step asks a model: You judge. Claim {{ amount }}"
        in prompt_for(_ir(), _boundary("step:judge"))[0]
    )
    assert "The step computes: double_amount = amount * 2.0" in prompt_for(_ir(), _boundary("step:t"))[0]
    ir = _ir().model_copy(update={"objective": ObjectiveIR(), "description": ""})
    assert prompt_for(ir, _boundary())[0].split("\n")[:2] == ["Workflow: claims.", "Rules for: input"]


class FakeClient:
    def __init__(self, result: LLMResult) -> None:
        self.result = result
        self.requests: list[LLMRequest] = []
        self.real = LLMClient(LLMEndpoint(base_url="http://models.example/v1", model="small"))

    def resolve(self, alias: str) -> Any:
        return self.real.resolve(alias)

    async def complete(self, req: LLMRequest, **kw: Any) -> LLMResult:
        self.requests.append(req)
        return self.result


SETTINGS = InferenceSettings(llm_max_tokens=150, llm_timeout_s=42.0)


async def test_propose_asks_the_model_after_a_worked_example_with_bounded_room() -> None:
    client = FakeClient(LLMResult(output={"rules": "pos | amount > 0.0 | positive\nnonsense"}, audit={}))
    answer = await propose(client, _ir(), _boundary(), "big-model", SETTINGS)  # type: ignore[arg-type]
    assert answer.notes == ()
    assert [(c.id, c.rule, c.message) for c in answer.candidates] == [("pos", "amount > 0.0", "positive")]
    (req,) = client.requests
    assert req.models == ("big-model",) and req.max_tokens == 150 and req.timeout_s == 42.0
    assert req.system == SYSTEM and req.output is OUTPUT and req.prompt == EXAMPLE_PROMPT
    assert req.history == (
        {"role": "assistant", "content": json.dumps({"rules": EXAMPLE_RULES})},
        {"role": "user", "content": prompt_for(_ir(), _boundary())[0]},
    )


async def test_a_failed_call_gives_no_rules_and_a_note_naming_the_model_and_url() -> None:
    failed = FakeClient(LLMResult(output=None, audit={}, error="all models failed: x"))
    answer = await propose(failed, _ir(), _boundary(), "default", SETTINGS)  # type: ignore[arg-type]
    assert answer == Answer(
        [], ("input: the model gave no rules: small at http://models.example/v1: all models failed: x",)
    )
    empty = FakeClient(LLMResult(output={"rules": None}, audit={}))
    answer = await propose(empty, _ir(), _boundary(), "default", SETTINGS)  # type: ignore[arg-type]
    assert answer == Answer(
        [], ("input: the model gave no rules (small at http://models.example/v1 answered with none)",)
    )


async def test_an_answer_cut_at_max_tokens_says_which_flag_gives_more_room() -> None:
    audit = {
        "error.type": "output_invalid",
        "gen_ai.response.finish_reasons": ["length"],
        "gen_ai.output.messages": [{"role": "assistant", "content": '{"rules": "pos | amount > 0'}],
    }
    cut = FakeClient(LLMResult(output=None, audit=audit, error="invalid output"))
    answer = await propose(cut, _ir(), _boundary(), "default", SETTINGS)  # type: ignore[arg-type]
    assert answer.candidates == []
    assert answer.notes == (
        "input: the model gave no rules: small at http://models.example/v1: its answer was cut at 150 tokens "
        "(raise it with --llm-max-tokens)",
    )
