"""A review decision on an llm step that failed before answering (processors/resume.check_complete).

An llm step's answer fields are optional in its schema (its `when` guard sets them null), so a decision
that set one of them used to be taken as complete: the others stayed null, unasked, and the objective after
the step rejected the event on them (a CEL overload error on `credit_usd <= limit_usd`), after a decision
that is final (docs/review.md). Found by NEWCOMER5 (session 19, N5-2)."""

from __future__ import annotations

import pytest

from dana_workflows.processors.pipeline import Pipeline, compile_pipeline
from dana_workflows.processors.resume import ResumeError, check_complete, output_fields
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: tickets
input: {ticket_id: string, text: string}
steps:
  - classify:
      llm:
        prompt: "{{ text }}"
        output: {category: string, credit_usd: double, confidence: double}
objective:
  constraints:
    - {id: small_credit, rule: "credit_usd <= 100.0"}
"""


@pytest.fixture
def pipeline() -> Pipeline:
    return compile_pipeline(parse_spec(SPEC))


def test_a_decision_on_an_llm_step_that_wrote_nothing_names_every_answer_field(pipeline: Pipeline) -> None:
    fields = output_fields(pipeline, pipeline.nodes["classify"])
    assert all(f.optional for f in fields.values())  # the case: nothing is required by the schema
    failed = {"ticket_id": "T-1", "text": "the service is down"}
    with pytest.raises(ResumeError) as refused:
        check_complete(fields, failed, {"category": "outage"}, "classify")
    message = str(refused.value)
    assert "did not write credit_usd:double, confidence:double" in message
    assert "set them, e.g. --decision credit_usd=..." in message
    assert "field=null leaves an optional one empty" in message


def test_every_answer_field_named_null_included_is_complete(pipeline: Pipeline) -> None:
    fields = output_fields(pipeline, pipeline.nodes["classify"])
    failed = {"ticket_id": "T-1", "text": "the service is down"}
    check_complete(fields, failed, {"category": "outage", "credit_usd": 0.0, "confidence": None}, "classify")


def test_an_answer_the_step_wrote_may_be_kept_with_its_empty_optional_fields(pipeline: Pipeline) -> None:
    fields = output_fields(pipeline, pipeline.nodes["classify"])
    answered = {"ticket_id": "T-1", "text": "x", "category": "other", "credit_usd": 0.0, "confidence": None}
    check_complete(fields, answered, {}, "classify")  # keep: the step wrote its answer
