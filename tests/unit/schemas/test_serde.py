from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import fastavro
import pytest

from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry, UnknownSchemaError, schema_id
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

FIELDS = [
    FieldIR(name="amount", type="double"),
    FieldIR(name="note", type="string", optional=True),
    FieldIR(name="count", type="long"),
]


def envelope(**payload: object) -> Envelope:
    prov = {
        "rule_results": [
            {
                "rule_id": "r",
                "step": "s",
                "passed": False,
                "severity": "reject",
                "message": "m",
                "values": '{"amount":1.0}',
            }
        ],
        "reasons": ["r: m"],
        "route": "fast",
        "error": None,
        "model": None,
        "prompt_hash": None,
        "knowledge_versions": {"kb": "3"},
    }
    return Envelope(
        "e1",
        "r1",
        "claims-triage",
        2,
        "check",
        dict(payload),
        produced_at=1_767_225_600_123_456,
        attempt=1,
        provenance=prov,
        chain_seq=4,
        chain_hash="ab" * 32,
    )


def test_round_trip_in_confluent_wire_format(registry: FileRegistry) -> None:
    sid = registry.register(envelope_schema("claims-triage", "check", FIELDS))
    serde = EnvelopeSerde(registry)
    original = envelope(amount=12.5, note=None, count=3)
    data = serde.encode(original, sid)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == sid
    got_sid, decoded = serde.decode(data)
    assert got_sid == sid and decoded == original
    # any Avro tool can read the body with the registered schema
    body = fastavro.schemaless_reader(
        __import__("io").BytesIO(data[5:]), fastavro.parse_schema(registry.lookup(sid))
    )
    assert body["payload"] == {"amount": 12.5, "note": None, "count": 3}


def test_payload_that_breaks_the_schema_is_refused(registry: FileRegistry) -> None:
    sid = registry.register(envelope_schema("w", "check", FIELDS))
    with pytest.raises((TypeError, ValueError)):
        EnvelopeSerde(registry).encode(envelope(amount="n/a", note=None, count=3), sid)


def test_ids_are_stable_fingerprints_and_persist(tmp_path: Path) -> None:
    schema = envelope_schema("w", "check", FIELDS)
    first = FileRegistry(tmp_path).register(schema)
    assert first == schema_id(json.loads(json.dumps(schema)))
    assert (tmp_path / f"{first}.avsc").exists()
    assert FileRegistry(tmp_path).lookup(first) == json.loads((tmp_path / f"{first}.avsc").read_text())
    other = envelope_schema("w", "check", [*FIELDS, FieldIR(name="extra", type="boolean")])
    assert schema_id(other) != first
    with pytest.raises(UnknownSchemaError):
        FileRegistry(tmp_path).lookup(12345)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01", "too short"),
        (b"\x07\x00\x00\x00\x01abc", "magic byte is 7"),
        (b"\x00\x00\x00\x30\x39abc", "schema id 12345 is not in the registry"),
    ],
)
def test_poison_bytes_are_named(registry: FileRegistry, data: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessageError, match=reason) as info:
        EnvelopeSerde(registry).decode(data)
    assert info.value.raw == data


def test_truncated_body_is_poison(registry: FileRegistry) -> None:
    sid = registry.register(envelope_schema("w", "check", FIELDS))
    data = EnvelopeSerde(registry).encode(envelope(amount=1.0, note="x", count=1), sid)
    with pytest.raises(PoisonMessageError, match="not valid Avro") as info:
        EnvelopeSerde(registry).decode(data[:20])
    assert info.value.schema_id == sid


def test_schema_evolution_resolves_into_the_reader_schema(registry: FileRegistry) -> None:
    old = registry.register(envelope_schema("w", "check", FIELDS[:1]))
    new = registry.register(envelope_schema("w", "check", [FIELDS[0], FIELDS[1]]))
    serde = EnvelopeSerde(registry)
    data = serde.encode(envelope(amount=2.0), old)
    _, decoded = serde.decode_as(data, new)
    assert decoded.payload == {"amount": 2.0, "note": None}


@pytest.mark.parametrize("pure", [False, True], ids=["c", "python"])
def test_roundtrip_is_what_a_consumer_decodes_copied_or_not(
    registry: FileRegistry, monkeypatch: pytest.MonkeyPatch, pure: bool
) -> None:
    """With the C codec a fitting record is copied without its bytes (AvroCodec.copier); the envelope that
    comes back is the one decode(encode()) gives, with payload and provenance of its own; a value the
    schema converts (an int for a double) or refuses goes through the bytes, with their result or error."""
    from dana_workflows.schemas.codec import ACCELERATOR_BUILT, PURE_ENV

    if not pure and not ACCELERATOR_BUILT:
        pytest.skip("C accelerator not built")
    monkeypatch.setenv(PURE_ENV, "1" if pure else "0")
    sid = registry.register(envelope_schema("claims-triage", "check", FIELDS))
    serde = EnvelopeSerde(registry)
    for original in (envelope(amount=12.5, note="é", count=3), envelope(amount=2, count=-(2**63))):
        crossed = serde.roundtrip(original, sid)
        assert crossed == serde.decode(serde.encode(original, sid))[1]
        assert crossed.payload is not original.payload and crossed.provenance is not original.provenance
        assert crossed.provenance["rule_results"][0] is not original.provenance["rule_results"][0]
        assert crossed.provenance["knowledge_versions"] is not original.provenance["knowledge_versions"]
    assert serde.roundtrip(envelope(amount=2, count=1), sid).payload == {
        "amount": 2.0,
        "note": None,
        "count": 1,
    }
    assert type(serde.roundtrip(envelope(amount=2, count=1), sid).payload["amount"]) is float
    assert bool(serde._copiers_into) is not pure and not serde._copiers  # the envelope's own fields
    for bad in (envelope(amount="n/a", count=3), envelope(amount=1.0, count=2**63), envelope(amount=1.0)):
        with pytest.raises((TypeError, ValueError)) as refused:
            serde.encode(bad, sid)
        with pytest.raises(type(refused.value), match=re.escape(str(refused.value))):
            serde.roundtrip(bad, sid)


def test_a_schema_with_fields_beyond_the_envelopes_is_copied_as_a_record(registry: FileRegistry) -> None:
    """A registered schema with a field the Envelope has not (a later version's, with its default): the
    record copy runs, and the envelope comes back as decode(encode()) gives it."""
    from dana_workflows.schemas.codec import ACCELERATOR_BUILT, accelerated_by_default

    if not (ACCELERATOR_BUILT and accelerated_by_default()):
        pytest.skip("C accelerator not built or not used")
    base = envelope_schema("claims-triage", "check", FIELDS)
    sid = registry.register(
        {**base, "fields": [*base["fields"], {"name": "extra", "type": "long", "default": 7}]}
    )
    serde = EnvelopeSerde(registry)
    original = envelope(amount=12.5, note="é", count=3)
    crossed = serde.roundtrip(original, sid)
    assert crossed == serde.decode(serde.encode(original, sid))[1] == original
    assert crossed.payload is not original.payload
    assert sid in serde._copiers and sid not in serde._copiers_into


def test_only_a_schema_with_the_envelopes_fields_is_copied_attribute_to_attribute() -> None:
    from dana_workflows.schemas.serde import _envelope_fields

    base = envelope_schema("claims-triage", "check", FIELDS)
    assert _envelope_fields(base)
    assert not _envelope_fields({**base, "fields": [*base["fields"], {"name": "extra", "type": "long"}]})
    assert not _envelope_fields({**base, "fields": base["fields"][:-1]})  # chain_hash missing
    assert not _envelope_fields("string") and not _envelope_fields({"type": "record"})
