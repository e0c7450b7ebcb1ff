"""The llm step's knowledge hook (processors/llm/knowledge_hook.py): what it hands the knowledge room and
what it keeps between an event's prompt and its answer.

From its docstring: the instructions counted against the budget are the system prompt, the output
instruction and the user prompt; the event's payload, run id and the injected clock's time go with
them; a knowledge error or a prepared error fails the event (no call) with the step's place named and the
details audited; what was prepared waits for the answer keyed by run and prompt, at most _PENDING of
them (the oldest dropped first), and is settled once.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.step import Prepared
from dana_workflows.processors.base import Outcome, OutcomeKind
from dana_workflows.processors.llm import knowledge_hook
from dana_workflows.processors.llm.knowledge_hook import LLMKnowledge
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.prompt import RenderedPrompt, prompt_hash
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR, LLMStepIR
from dana_workflows.workflow.knowledge_ir import StepKnowledgeIR

pytestmark = pytest.mark.unit

OUT = (FieldIR(name="covered", type="boolean"),)


def _hook() -> LLMKnowledge:
    step = LLMStepIR(name="assess", prompt="p", output=OUT, knowledge=StepKnowledgeIR(budget=500))
    return LLMKnowledge(step, "wf", base=object(), clock=lambda: 42)  # type: ignore[arg-type]


def _env(run: str) -> Envelope:
    return Envelope(f"{run}/e", run, "wf", 1, "assess", {"policy_id": "P1"})


def _rendered(user: str = "Is it covered?") -> RenderedPrompt:
    return RenderedPrompt("You judge claims.", user, prompt_hash("You judge claims.", user))


class Recorder:
    def __init__(self, result: Prepared | Exception) -> None:
        self.result = result
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> Prepared:
        self.calls.append(args)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_the_hook_hands_over_instructions_payload_run_and_time() -> None:
    hook = _hook()
    rec = Recorder(Prepared(context="## Knowledge\nfacts\n", details={"dwf.knowledge.tokens": {}}))
    hook.step.prepare = rec  # type: ignore[method-assign]
    output = OutputSpec(OUT, "o")
    final = hook.attach(_env("r1"), _rendered(), output)
    ((base, payload, run_id, instructions, user, now),) = rec.calls
    assert base is hook.base and payload == {"policy_id": "P1"} and run_id == "r1" and now == 42
    assert instructions == f"You judge claims.\n{output.instruction()}\nIs it covered?"
    assert user == "Is it covered?"
    assert isinstance(final, RenderedPrompt) and final.user == "## Knowledge\nfacts\n\nIs it covered?"


def test_a_knowledge_error_fails_the_event_naming_the_step() -> None:
    hook = _hook()
    hook.step.prepare = Recorder(KnowledgeError("store gone"))  # type: ignore[method-assign]
    out = hook.attach(_env("r1"), _rendered(), OutputSpec(OUT, "o"))
    assert isinstance(out, Outcome) and out.kind is OutcomeKind.FAIL
    assert out.error == "workflow 'wf', llm step 'assess': store gone"
    assert out.details == {"dwf.knowledge.error": "store gone"}


def test_a_prepared_error_fails_the_event_with_its_details() -> None:
    hook = _hook()
    prepared = Prepared(error="required fact 'terms' is missing", details={"dwf.knowledge.action": "recover"})
    hook.step.prepare = Recorder(prepared)  # type: ignore[method-assign]
    out = hook.attach(_env("r1"), _rendered(), OutputSpec(OUT, "o"))
    assert isinstance(out, Outcome) and out.error == "required fact 'terms' is missing"
    assert out.details == {"dwf.knowledge.action": "recover"}
    assert hook._pending == {}


def test_pending_events_are_bounded_oldest_first_and_settled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knowledge_hook, "_PENDING", 2)
    hook = _hook()
    hook.step.prepare = Recorder(Prepared(context="", details={"k": 1}))  # type: ignore[method-assign]
    settled: list[Any] = []
    hook.step.settle = lambda prepared, payload, answer: (settled.append(answer) or {"x": 1}, {"n": 2})  # type: ignore[method-assign,func-returns-value]
    finals = [hook.attach(_env(f"r{i}"), _rendered(), OutputSpec(OUT, "o")) for i in range(3)]
    assert all(isinstance(f, RenderedPrompt) for f in finals)
    assert len(hook._pending) == 2
    assert hook.settle(_env("r0"), finals[0], {"covered": True}) == ({}, {})  # dropped: the oldest
    assert hook.settle(_env("r2"), finals[2], {"covered": True}) == ({"x": 1}, {"k": 1, "n": 2})
    assert hook.settle(_env("r2"), finals[2], {"covered": True}) == ({}, {})
    assert settled == [{"covered": True}]
