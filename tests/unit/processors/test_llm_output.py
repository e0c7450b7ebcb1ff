"""The typed output: pydantic validation, strict JSON schema, the repair request."""

from __future__ import annotations

import pytest

from dana_workflows.processors.llm.output import OutputError, OutputSpec
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

SPEC = OutputSpec(
    (
        FieldIR(name="risk", type="string"),
        FieldIR(name="confidence", type="double"),
        FieldIR(name="flagged", type="boolean", optional=True),
    ),
    "claims fraud",
)


def test_valid_reply_is_typed_in_field_order() -> None:
    out = SPEC.parse('{"confidence": 1, "risk": "low", "extra": 5}')
    assert out == {"risk": "low", "confidence": 1.0, "flagged": None}
    assert list(out) == ["risk", "confidence", "flagged"] and isinstance(out["confidence"], float)


def test_fenced_json_accepted() -> None:
    assert SPEC.parse('```json\n{"risk": "low", "confidence": 0.5}\n```')["risk"] == "low"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"risk": "lo', "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"unexpected": true}', "risk: Field required"),
        ('{"risk": "low", "confidence": "very"}', "confidence"),
        ("", "empty"),
        (None, "empty"),
    ],
)
def test_invalid_replies_say_what_is_wrong(text: str | None, message: str) -> None:
    with pytest.raises(OutputError, match=message):
        SPEC.parse(text)


def test_json_schema_is_strict() -> None:
    rf = SPEC.response_format("json_schema")
    schema = rf["json_schema"]["schema"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["name"] == "claims_fraud"
    assert schema["additionalProperties"] is False and schema["required"] == ["risk", "confidence", "flagged"]
    assert schema["properties"]["flagged"]["type"] == ["boolean", "null"]
    assert SPEC.response_format("json_object") == {"type": "json_object"}
    assert "JSON" in SPEC.instruction()


def test_repair_messages_carry_the_error() -> None:
    msgs = SPEC.repair_messages('{"risk": "lo', "the reply is not valid JSON")
    assert msgs[0] == {"role": "assistant", "content": '{"risk": "lo'}
    assert "not valid JSON" in msgs[1]["content"] and msgs[1]["role"] == "user"


def test_no_output_fields_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        OutputSpec((), "x")
