"""What a person reads when a step refuses an event or a spec cannot be built, word for word: the route's
rejections (docs/spec.md, route: rule ``<step>.no_branch``; a condition that cannot be computed fails like
a rule that cannot, with the error mark ``(error: ...)`` that a run's summary counts), a transform
function that cannot be imported (naming the reference and the fix), and an llm step's output contract
(docs/llm.md: a strict JSON schema in the prompt and the response format, the one repair request).
"""

from __future__ import annotations

import json

import pytest

from dana_workflows.processors.base import OutcomeKind, RuleResult
from dana_workflows.processors.llm.output import OutputError, OutputSpec
from dana_workflows.processors.route import RouteProcessor
from dana_workflows.processors.transform import resolve_function
from dana_workflows.workflow.ir import BranchIR, FieldIR, RouteStepIR
from tests.unit.processors.test_processors import ctx, env, explode

pytestmark = pytest.mark.unit


# -- route -------------------------------------------------------------------------------------------------
async def test_no_branch_held_is_rejected_by_the_no_branch_rule() -> None:
    step = RouteStepIR(name="triage", field="lane", branches=(BranchIR(name="fast", when="amount < 10.0"),))
    out = await RouteProcessor(step).process(env(amount=50.0), ctx())
    assert out.kind is OutcomeKind.REJECT
    assert out.reasons == ["triage: no branch condition held"]
    assert out.rule_results == [
        RuleResult("triage.no_branch", "triage", False, "reject", "no branch condition held", {})
    ]
    assert "lane" not in out.envelope.payload and "route" not in out.envelope.provenance


async def test_a_condition_that_cannot_be_computed_rejects_naming_the_branch_and_the_error() -> None:
    step = RouteStepIR(
        name="triage",
        branches=(BranchIR(name="fast", when="amount < 10.0"), BranchIR(name="slow", when="true")),
    )
    out = await RouteProcessor(step).process(env(amount="ten"), ctx())  # a string where a number is due
    assert out.kind is OutcomeKind.REJECT  # not the next branch: the event is wrong, say so
    (reason,) = out.reasons
    (result,) = out.rule_results
    assert reason.startswith("triage.fast: cannot evaluate condition: ")
    error = reason.removeprefix("triage.fast: cannot evaluate condition: ")
    assert error  # the CEL library's words for what went wrong
    assert (result.rule_id, result.step, result.passed, result.severity) == (
        "triage.fast",
        "triage",
        False,
        "reject",
    )
    assert result.message == f"cannot evaluate condition (error: {error})"
    assert result.values == {"amount": "ten"}  # what the condition read


async def test_the_branch_taken_is_written_to_the_named_field_and_the_provenance() -> None:
    step = RouteStepIR(
        name="triage",
        field="lane",
        branches=(BranchIR(name="fast", when="amount < 10.0"), BranchIR(name="slow", when="true")),
    )
    event = env(amount=50.0)
    out = await RouteProcessor(step).process(event, ctx())
    assert (out.kind, out.branch, out.reasons, out.rule_results) == (OutcomeKind.ROUTE, "slow", [], [])
    assert out.envelope.payload == {"amount": 50.0, "lane": "slow"}
    assert out.envelope.provenance["route"] == "slow"


# -- transform functions ----------------------------------------------------------------------------------
def test_a_function_reference_resolves_to_the_function() -> None:
    assert resolve_function("tests.unit.processors.test_processors:explode") is explode


@pytest.mark.parametrize(
    ("ref", "cause"),
    [
        ("no_such_module_dwf:fn", "No module named 'no_such_module_dwf'"),
        ("tests.unit.processors.test_processors:no_such_fn", "no_such_fn"),
    ],
)
def test_a_function_that_cannot_be_imported_is_named_with_the_fix(ref: str, cause: str) -> None:
    with pytest.raises(ValueError) as raised:
        resolve_function(ref)
    message = str(raised.value)
    assert message.startswith(f"transform function {ref!r} cannot be imported: ")
    assert cause in message
    assert message.endswith("; make sure the module is on PYTHONPATH and the name is right")


def test_a_function_reference_to_something_not_callable_is_refused() -> None:
    ref = "os:sep"  # a string
    with pytest.raises(ValueError) as raised:
        resolve_function(ref)
    assert str(raised.value) == f"transform function {ref!r} is not callable"


# -- llm output contract ----------------------------------------------------------------------------------
FIELDS = (
    FieldIR(name="risk", type="string", doc="low, medium or high"),
    FieldIR(name="score", type="long"),
    FieldIR(name="count", type="int", optional=True),
    FieldIR(name="confidence", type="double"),
    FieldIR(name="ratio", type="float", optional=True),
    FieldIR(name="flagged", type="boolean"),
)
# written from docs/llm.md (strict structured output: every property required, no others; an optional
# field may be null; Avro long/int are JSON integers, double/float numbers; a field's doc its description)
SCHEMA = {
    "type": "object",
    "properties": {
        "risk": {"type": "string", "description": "low, medium or high"},
        "score": {"type": "integer"},
        "count": {"type": ["integer", "null"]},
        "confidence": {"type": "number"},
        "ratio": {"type": ["number", "null"]},
        "flagged": {"type": "boolean"},
    },
    "required": ["risk", "score", "count", "confidence", "ratio", "flagged"],
    "additionalProperties": False,
}
INSTRUCTION = "Reply with only a JSON object, no prose, matching this JSON schema: " + json.dumps(
    SCHEMA, sort_keys=True
)


def test_the_json_schema_of_every_field_type() -> None:
    spec = OutputSpec(FIELDS, "assess")
    assert spec.schema == SCHEMA
    assert spec.response_format("json_schema") == {
        "type": "json_schema",
        "json_schema": {"name": "assess", "schema": SCHEMA, "strict": True},
    }
    assert spec.instruction() == INSTRUCTION
    assert spec.nulls() == dict.fromkeys(("risk", "score", "count", "confidence", "ratio", "flagged"))


@pytest.mark.parametrize(
    ("step", "name"),
    [
        ("triage.review.fraud_risk", "triage_review_fraud_risk"),  # a nested step's path
        ("risk-v2 (beta)", "risk-v2__beta_"),  # letters, digits, _ and - are kept
        ("s" * 70, "s" * 64),  # the response format's name is at most 64 characters
        ("", "output"),
    ],
)
def test_the_response_formats_name_is_the_step_made_safe(step: str, name: str) -> None:
    spec = OutputSpec(FIELDS[:1], step)
    assert spec.response_format("json_schema")["json_schema"]["name"] == name
    assert spec.model.__name__ == f"{name}_output"


def test_a_reply_is_typed_by_its_fields() -> None:
    spec = OutputSpec(FIELDS, "assess")
    reply = '{"risk": "low", "score": 3, "confidence": 1, "flagged": false, "extra": "ignored"}'
    out = spec.parse(reply)
    assert out == {
        "risk": "low",
        "score": 3,
        "count": None,
        "confidence": 1.0,
        "ratio": None,
        "flagged": False,
    }
    assert type(out["score"]) is int and type(out["confidence"]) is float


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "the reply is empty"),
        ('{"risk": ', "the reply is not valid JSON (Expecting value at char 8)"),  # of the stripped reply
        ('"low"', "the reply is JSON but not an object (got str)"),
        (
            '{"risk": "low", "score": "many", "confidence": 0.5, "flagged": true}',
            "the reply does not match the output fields (score: Input should be a valid integer, "
            "unable to parse string as an integer)",
        ),
        (
            '{"score": 1, "confidence": 0.5}',
            "the reply does not match the output fields (risk: Field required; flagged: Field required)",
        ),
    ],
)
def test_a_bad_reply_says_exactly_what_is_wrong(reply: str, message: str) -> None:
    with pytest.raises(OutputError) as raised:
        OutputSpec(FIELDS, "assess").parse(reply)
    assert str(raised.value) == message


def test_a_fenced_reply_is_read_inside_its_fence() -> None:
    spec = OutputSpec(FIELDS[:1], "assess")
    assert spec.parse('  ```json\n{"risk": "high"}\n```  ') == {"risk": "high"}
    assert spec.parse('```\n{"risk": "low"}\n```') == {"risk": "low"}


def test_the_repair_request_shows_the_bad_reply_and_asks_for_the_schema_again() -> None:
    spec = OutputSpec(FIELDS, "assess")
    assert spec.repair_messages('{"risk": ', "the reply is not valid JSON") == [
        {"role": "assistant", "content": '{"risk": '},
        {"role": "user", "content": f"That reply was rejected: the reply is not valid JSON. {INSTRUCTION}"},
    ]
    assert spec.repair_messages(None, "the reply is empty")[0] == {"role": "assistant", "content": ""}


def test_an_llm_step_without_output_fields_is_refused_by_name() -> None:
    with pytest.raises(ValueError) as raised:
        OutputSpec((), "triage.review.fraud_risk")
    assert str(raised.value) == "llm step 'triage.review.fraud_risk': 'output' must name at least one field"
