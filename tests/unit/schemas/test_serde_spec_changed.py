"""newcomer4 N4-1: bytes written under an older spec's schema that the current spec's schema cannot read are
not plain poison: the serde reads them with their writer's schema (from the registry, as every schema id a
worker registered) and says what the current spec asks that they lack, so a worker can decide them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError, SpecChangedError
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

OLD = [FieldIR(name="amount", type="double"), FieldIR(name="note", type="string", optional=True)]


def _serde(tmp_path: Path, new: list[FieldIR]) -> tuple[EnvelopeSerde, int, int]:
    registry = FileRegistry(tmp_path)
    old_sid = registry.register(envelope_schema("claims", "in", OLD))
    new_sid = registry.register(envelope_schema("claims", "in", new))
    return EnvelopeSerde(registry), old_sid, new_sid


def _written(serde: EnvelopeSerde, sid: int) -> tuple[Envelope, bytes]:
    env = Envelope(
        "r1/in", "r1", "claims", 3, "ingest", {"amount": 1.5, "note": None}, 7, 0, {}, 2, "ab" * 32
    )
    return env, serde.encode(env, sid)


def test_a_field_the_new_spec_requires_is_named_and_the_record_read_as_written(tmp_path: Path) -> None:
    new = [*OLD, FieldIR(name="region", type="string"), FieldIR(name="tier", type="long", optional=True)]
    serde, old_sid, new_sid = _serde(tmp_path, new)
    _, data = _written(serde, old_sid)
    with pytest.raises(SpecChangedError) as info:
        serde.decode_as(data, new_sid)
    exc = info.value
    # the optional new field has a default: only the required one is unmet
    assert exc.unmet == [
        ("region", "'region' is required (the event was written before the spec required it)")
    ]
    assert exc.envelope.payload == {"amount": 1.5, "note": None}
    assert (exc.envelope.run_id, exc.envelope.chain_seq, exc.envelope.chain_hash) == ("r1", 2, "ab" * 32)
    assert exc.schema_id == old_sid and exc.raw == data
    assert f"written under schema {old_sid}, which this worker's schema {new_sid} cannot read" in exc.reason


def test_a_changed_type_keeps_fastavros_words_under_payload(tmp_path: Path) -> None:
    serde, old_sid, new_sid = _serde(tmp_path, [FieldIR(name="amount", type="boolean"), OLD[1]])
    _, data = _written(serde, old_sid)
    with pytest.raises(SpecChangedError) as info:
        serde.decode_as(data, new_sid)
    ((name, why),) = info.value.unmet
    assert name == "payload" and why.startswith("not readable under the current spec: ")
    assert "boolean" in why or "amount" in why


def test_bytes_their_own_schema_cannot_read_stay_poison(tmp_path: Path) -> None:
    new = [*OLD, FieldIR(name="region", type="string")]
    serde, old_sid, new_sid = _serde(tmp_path, new)
    _, data = _written(serde, old_sid)
    with pytest.raises(PoisonMessageError) as info:
        serde.decode_as(data[:12], new_sid)  # cut short: neither schema reads it
    assert not isinstance(info.value, SpecChangedError)


def test_a_record_cut_after_its_payload_is_poison_naming_the_resolution(tmp_path: Path) -> None:
    """The reader's schema fails on the payload before the cut shows; the writer's then fails on the cut:
    no record to decide, so poison, with the resolution's words and both schemas."""
    serde, old_sid, new_sid = _serde(tmp_path, [*OLD, FieldIR(name="region", type="string")])
    _, data = _written(serde, old_sid)
    seen = []
    for end in range(len(data) - 1, 5, -1):
        try:
            serde.decode_as(data[:end], new_sid)
        except SpecChangedError:
            continue
        except PoisonMessageError as exc:
            seen.append(exc.reason)
            if "SchemaResolutionError" in exc.reason:
                assert f"which this worker's schema {new_sid} cannot read" in exc.reason
                return
    pytest.fail(f"no cut gave the resolution error: {seen[:3]}")


def test_a_payload_that_is_not_a_record_has_no_fields_to_ask_for() -> None:
    from dana_workflows.schemas.serde import _payload_fields, _unmet

    assert _payload_fields({"fields": [{"name": "payload", "type": "string"}]}) == []
    assert _unmet({"fields": []}, {}, ValueError("x")) == [
        ("payload", "not readable under the current spec: x")
    ]


def test_a_record_of_another_workflows_schema_stays_poison(tmp_path: Path) -> None:
    """A record framed with another workflow's envelope schema (a producer pointed at the wrong topic) is
    not an older version of this topic's events: its writer reads it, but rejecting it here would write an
    audit row continuing another workflow's run. It stays poison, naming both envelopes."""
    registry = FileRegistry(tmp_path)
    theirs = registry.register(envelope_schema("fraud", "in", OLD))
    mine = registry.register(envelope_schema("claims", "in", [*OLD, FieldIR(name="region", type="string")]))
    serde = EnvelopeSerde(registry)
    env = Envelope("r1/in", "r1", "fraud", 3, "ingest", {"amount": 1.5, "note": None}, 7, 0, {}, 2, "ab" * 32)
    with pytest.raises(PoisonMessageError) as info:
        serde.decode_as(serde.encode(env, theirs), mine)
    assert not isinstance(info.value, SpecChangedError)
    assert "dwf.fraud.in.Envelope" in info.value.reason and "dwf.claims.in.Envelope" in info.value.reason


def test_a_field_made_required_that_the_event_left_null_is_named(tmp_path: Path) -> None:
    """An optional field the new spec requires: an event that left it null cannot be read, and the reason
    names the field (as for a field it lacks), not fastavro's union words under 'payload'."""
    serde, old_sid, new_sid = _serde(tmp_path, [OLD[0], FieldIR(name="note", type="string")])
    _, data = _written(serde, old_sid)  # note: None
    with pytest.raises(SpecChangedError) as info:
        serde.decode_as(data, new_sid)
    assert info.value.unmet == [
        ("note", "'note' is required (the event was written before the spec required it)")
    ]
