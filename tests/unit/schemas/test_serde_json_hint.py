"""A JSON value on a workflow topic (a service's own producer, newcomer4 N4-4) is poison whose reason says
what to do, not only that the magic byte is wrong; other bytes keep the plain reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError

pytestmark = pytest.mark.unit


def _reason(tmp_path: Path, data: bytes) -> str:
    with pytest.raises(PoisonMessageError) as info:
        EnvelopeSerde(FileRegistry(tmp_path)).decode(data)
    return str(info.value)


@pytest.mark.parametrize("data", [b'{"claim_id": "X1", "amount": 100.0}', b' [{"id": 1}]'])
def test_a_json_value_is_told_to_go_through_produce(tmp_path: Path, data: bytes) -> None:
    reason = _reason(tmp_path, data)
    assert "expected 0 (not Confluent wire format); it is JSON text" in reason
    assert "send JSON events with `dana-wf produce SPEC --input FILE`" in reason


def test_other_bytes_keep_the_plain_reason(tmp_path: Path) -> None:
    reason = _reason(tmp_path, b"not json at all")
    assert reason.endswith("magic byte is 110 (0x6e), expected 0 (not Confluent wire format)")


def test_a_record_the_new_spec_cannot_read_names_the_schemas_and_the_drain(tmp_path: Path) -> None:
    """newcomer4 N4-1: a required input field added between worker restarts made every waiting event poison
    with only fastavro's `No default value for field region`."""
    from dana_workflows.schemas.avro import envelope_schema
    from dana_workflows.schemas.envelope import Envelope
    from dana_workflows.workflow.ir import FieldIR

    registry = FileRegistry(tmp_path)
    old = [FieldIR(name="amount", type="double")]
    old_sid = registry.register(envelope_schema("claims", "in", old))
    new_sid = registry.register(
        envelope_schema("claims", "in", [*old, FieldIR(name="region", type="string")])
    )
    serde = EnvelopeSerde(registry)
    data = serde.encode(Envelope("e1", "r1", "claims", 3, "in", {"amount": 1.0}), old_sid)
    with pytest.raises(PoisonMessageError) as info:
        serde.decode_as(data, new_sid)
    reason = str(info.value)
    assert f"not valid Avro for schema {old_sid}: SchemaResolutionError" in reason and "region" in reason
    assert f"written under schema {old_sid}, which this worker's schema {new_sid} cannot read" in reason
    assert "Drain a topic with workers of the spec it was written under" in reason
    assert info.value.raw == data
