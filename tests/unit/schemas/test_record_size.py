"""A record too large for a topic is known before it is sent (schemas/record_size.py): the boundary
encoders refuse it with a reason, and a dlq/rejected record carries a bounded payload instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.record_size import MAX_VALUE_BYTES, RecordTooLargeError, bounded_payload
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.streams.kafka.wire import WireCodec
from tests.unit.schemas.test_serde import FIELDS, envelope

pytestmark = pytest.mark.unit


def _serde(tmp_path: Path) -> tuple[EnvelopeSerde, int]:
    registry = FileRegistry(tmp_path)
    return EnvelopeSerde(registry), registry.register(envelope_schema("claims", "in", FIELDS))


def test_a_record_over_the_limit_is_refused_before_sending_with_its_size(tmp_path: Path) -> None:
    serde, sid = _serde(tmp_path)
    fits = envelope(amount=1.0, note="x" * (MAX_VALUE_BYTES - 2_000), count=1)
    assert len(serde.encode(fits, sid)) <= MAX_VALUE_BYTES
    big = envelope(amount=1.0, note="x" * MAX_VALUE_BYTES, count=1)
    with pytest.raises(RecordTooLargeError, match=r"over the 1,000,000-byte limit"):
        serde.encode(big, sid)
    with pytest.raises(ValueError, match=r"bytes encoded"):  # the local runtime's boundary: same verdict
        serde.roundtrip(big, sid)


def test_the_limit_itself_fits_and_one_byte_more_does_not(tmp_path: Path) -> None:
    # encode and roundtrip check the size before building their message (schemas/serde.py): at exactly
    # MAX_VALUE_BYTES a record goes, one byte over it is refused, by both
    serde, sid = _serde(tmp_path)
    probe = len(serde.encode(envelope(amount=1.0, note="x" * (MAX_VALUE_BYTES - 2_000), count=1), sid))
    at_limit = envelope(amount=1.0, note="x" * (MAX_VALUE_BYTES - 2_000 + MAX_VALUE_BYTES - probe), count=1)
    assert len(serde.encode(at_limit, sid)) == MAX_VALUE_BYTES  # the string's length prefix kept its size
    assert serde.roundtrip(at_limit, sid).payload == at_limit.payload
    over = envelope(amount=1.0, note=at_limit.payload["note"] + "x", count=1)
    with pytest.raises(RecordTooLargeError, match=r"1,000,001 bytes encoded"):
        serde.encode(over, sid)
    with pytest.raises(RecordTooLargeError, match=r"1,000,001 bytes encoded"):
        serde.roundtrip(over, sid)


def test_a_roundtrip_that_cannot_read_its_own_bytes_says_poison(tmp_path: Path) -> None:
    serde, sid = _serde(tmp_path)
    env = envelope(amount=1.0, note="n", count=1)
    serde.roundtrip(env, sid)  # compiles the codec: its reader is what the next call uses
    header = next(h for h, (s, _) in serde._readers.items() if s == sid)

    def unreadable(data: bytes, offset: int) -> object:
        raise EOFError("cut short")

    serde._readers[header] = (sid, unreadable)
    serde._copiers_into.pop(sid, None)  # the copy skips the bytes (test_serde.py): this is about reading them
    with pytest.raises(PoisonMessageError, match=rf"not valid Avro for schema {sid}: EOFError: cut short"):
        serde.roundtrip(env, sid)


def test_a_dlq_record_of_a_huge_payload_is_bounded_and_names_its_size(tmp_path: Path) -> None:
    codec = WireCodec(FileRegistry(tmp_path))
    env = envelope(amount=1.0, note="y" * 1_200_000, count=1)
    data = codec.encode_mixed(env)
    assert len(data) <= MAX_VALUE_BYTES
    back = codec.decode_mixed(data)
    assert back.payload["payload_bytes"] > 1_200_000
    assert back.payload["payload_truncated"].startswith('{"amount":1.0,"count":1,"note":"yyy')
    assert back.run_id == env.run_id
    assert back.provenance == env.provenance  # not the problem: kept whole, so its error stays readable
    env.provenance["error"] = "e" * 1_200_000  # the provenance the large part: bounded, the payload kept
    back = codec.decode_mixed(codec.encode_mixed(env))
    assert back.provenance["payload_bytes"] > 1_200_000 and back.payload["payload_bytes"] > 1_200_000
    small_payload = envelope(amount=3.0, note="s", count=1)
    small_payload.provenance["error"] = "e" * 1_200_000
    back = codec.decode_mixed(codec.encode_mixed(small_payload))
    assert back.payload == small_payload.payload and back.provenance["payload_bytes"] > 1_200_000
    small = envelope(amount=2.0, note="z", count=1)
    assert codec.decode_mixed(codec.encode_mixed(small)).payload == small.payload  # untouched


def test_bounded_payload_keeps_a_digest_of_the_whole() -> None:
    import hashlib

    text = json.dumps({"d": "q" * 10_000})
    kept = bounded_payload(text)
    assert kept["payload_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert len(kept["payload_truncated"]) == 4_096 and kept["payload_bytes"] == len(text)


def test_a_magic_byte_is_printed_unsigned(tmp_path: Path) -> None:
    serde, _ = _serde(tmp_path)
    with pytest.raises(PoisonMessageError, match=r"magic byte is 200 \(0xc8\), expected 0"):
        serde.decode(b"\xc8\x00\x00\x00\x01abc")


def test_a_huge_input_line_is_recorded_bounded_and_said_unrestorable() -> None:
    from dana_workflows.processors.recorded_input import RECORDED_INPUT_MAX_CHARS, received_details, restore

    line = '{"description": "' + "w" * RECORDED_INPUT_MAX_CHARS + '"}'
    details = json.loads(received_details(line, 3, frozenset(), None))
    assert details["ordinal"] == 3 and details["input_bounded"]["payload_bytes"] == len(line)
    assert len(json.dumps(details)) < 10_000
    restored = restore(details, None)
    assert restored.line is None and restored.unrestored == ["<line>"] and "bounded" in restored.why
