"""The audit's `received` row keeps the input as received; sensitive fields only encrypted or withheld."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.recorded_input import (
    InputKeyError,
    received_details,
    recording_for,
    restore,
    sealer,
)
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: kyc
input:
  name: string
  ssn: {type: string, sensitive: true}
  score: long
steps:
  - check: {validate: [{id: ok, rule: "score > 0"}]}
"""
LINE = '{"name": "Ann", "ssn": "123-45-6789", "score": 7}'


def test_plain_workflow_keeps_the_line_as_received() -> None:
    ir = parse_spec(SPEC.replace("{type: string, sensitive: true}", "string"))
    details = json.loads(admit(ir, LINE, 3, 1).rows[0].details)
    assert details == {"input": LINE, "ordinal": 3}
    assert restore(details, None).line == LINE


def test_sensitive_field_is_encrypted_and_restored_with_the_key() -> None:
    key = Fernet.generate_key().decode()
    details = json.loads(received_details(LINE, 0, frozenset({"ssn"}), sealer(key)))
    assert "123-45-6789" not in json.dumps(details)
    assert details["input_fields"]["name"] == "Ann" and "$encrypted" in details["input_fields"]["ssn"]
    restored = restore(details, sealer(key))
    assert json.loads(restored.line or "") == json.loads(LINE) and restored.unrestored == []


def test_without_the_key_replay_names_what_it_cannot_restore() -> None:
    key = Fernet.generate_key().decode()
    details = json.loads(received_details(LINE, 0, frozenset({"ssn"}), sealer(key)))
    for cipher, why in ((None, "not set"), (sealer(Fernet.generate_key().decode()), "another key")):
        restored = restore(details, cipher)
        assert restored.line is None and restored.unrestored == ["ssn"] and why in restored.why


def test_no_key_when_recording_withholds_the_value() -> None:
    details = json.loads(received_details(LINE, 0, frozenset({"ssn"}), None))
    assert details["input_fields"]["ssn"] == {"$withheld": "no DWF_AUDIT_INPUT_KEY"}
    restored = restore(details, sealer(Fernet.generate_key().decode()))
    assert restored.unrestored == ["ssn"] and "withheld" in restored.why


def test_a_line_that_is_not_an_object_is_withheld_whole_when_fields_are_sensitive() -> None:
    details = json.loads(received_details("123-45-6789 oops", 0, frozenset({"ssn"}), None))
    assert "123-45-6789" not in json.dumps(details)
    assert restore(details, None).unrestored == ["<line>"]


def test_not_utf8_line_is_kept_escaped_and_not_replayed() -> None:
    details = json.loads(received_details('{"name": "\udcff"}', 0, frozenset(), None))
    assert details["input_escaped"] is True and "\\udcff" in details["input"]
    assert restore(details, None).line is None


def test_key_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DWF_AUDIT_INPUT_KEY", key)
    ir = parse_spec(SPEC)
    sensitive, cipher = recording_for(ir)
    assert sensitive == {"ssn"} and cipher is not None
    details = json.loads(admit(ir, LINE, 0, 1).rows[0].details)
    assert restore(details, sealer(key)).line is not None


def test_a_wrong_key_is_one_clear_error() -> None:
    with pytest.raises(InputKeyError, match="not a Fernet key"):
        sealer("not-a-key")
