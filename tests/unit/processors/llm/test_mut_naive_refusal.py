"""The naive perceive call's refusals (processors/llm/poet_naive.py ``_refusal``), stated per case.

The model says the input fails a check: for the step's guard (``when``) the event is skipped; for a
declared check it is rejected with that check's message (or "rule <id> failed" without one); for
anything else it is rejected as unfit, naming what the model said. Either way the event was settled at
perceive and naive mode made no operate or enforce call for it.
"""

from __future__ import annotations

import pytest

from dana_workflows.processors.base import OutcomeKind
from dana_workflows.processors.llm.poet_naive import _refusal
from dana_workflows.processors.llm.poet_record import EventRecord
from dana_workflows.processors.llm.processor import LLMProcessor
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, RuleIR

pytestmark = pytest.mark.unit

CHECKS = (
    RuleIR(id="has_desc", expr="size(d) > 0", message="a description is needed"),
    RuleIR(id="bare", expr="d != ''"),
)


def _proc(when: str | None = "size(d) > 3") -> LLMProcessor:
    step = LLMStepIR(
        name="s", prompt="{{ d }}", output=(FieldIR(name="o", type="string"),), perceive=CHECKS, when=when
    )
    return LLMProcessor(step, "wf")


def _env() -> Envelope:
    return Envelope("e", "r", "wf", 1, "s", {"d": "text"})


def _ev() -> EventRecord:
    return EventRecord("naive", "s")


def test_the_guard_failing_skips_the_event() -> None:
    ev = _ev()
    out = _refusal(_proc(), _env(), ev, "when")
    assert out.kind is OutcomeKind.EMIT and out.envelope.payload == {"d": "text", "o": None}
    assert (ev.settled_by, ev.proceeded, ev.naive_calls) == ("perceive", False, 1)
    assert [(p.name, p.decision, p.details) for p in ev.phases] == [
        ("perceive", "skip", {"failed_check": "when"})
    ]


def test_without_a_guard_when_is_just_an_unfit_input() -> None:
    out = _refusal(_proc(when=None), _env(), _ev(), "when")
    assert out.kind is OutcomeKind.REJECT and out.reasons == [
        "perceive: the model found the input unfit (when)"
    ]


def test_a_declared_check_rejects_with_its_message() -> None:
    ev = _ev()
    out = _refusal(_proc(), _env(), ev, "has_desc")
    assert out.kind is OutcomeKind.REJECT and out.reasons == ["has_desc: a description is needed"]
    (result,) = out.rule_results
    assert (result.rule_id, result.step, result.passed, result.severity) == ("has_desc", "s", False, "reject")
    assert [(p.name, p.decision) for p in ev.phases] == [("perceive", "reject")]
    assert ev.phases[0].details == {"failed_check": "has_desc"}
    assert _refusal(_proc(), _env(), _ev(), "bare").reasons == ["bare: rule bare failed"]


def test_anything_else_is_an_unfit_input_naming_what_the_model_said() -> None:
    out = _refusal(_proc(), _env(), _ev(), "made_up")
    assert out.reasons == ["perceive: the model found the input unfit (made_up)"]
    assert out.rule_results[0].rule_id == "perceive"
    assert _refusal(_proc(), _env(), _ev(), None).reasons == [
        "perceive: the model found the input unfit (None)"
    ]
