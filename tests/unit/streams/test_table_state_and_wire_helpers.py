"""Two pure helpers of the Kafka runtime, tested without a broker.

TableState (streams/kafka/table_state.py's docstring): a MutableMapping of JSON values over a faust table's
local store, whose changes are buffered per record and sent with it: reads see this record's changes first,
a deleted key is gone, ``flush`` sends each change to the changelog (compact, key-sorted JSON; a tombstone
for a delete) through the record's section and applies it to the store, ``discard`` forgets them.

The wire helpers (streams/kafka/wire.py): Avro's zigzag varint (Avro specification, "Binary encoding"),
the provenance headers of rejected/dlq messages, the mixed envelope's round trip and the refusal of a
message that is not one (magic byte, schema id, length)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.streams.kafka.table_state import TableState
from dana_workflows.streams.kafka.wire import WireCodec, _varint, header_map, source_headers

pytestmark = pytest.mark.unit


class _Topic:
    def get_topic_name(self) -> str:
        return "dwf-claims-drift-changelog"


class FakeTable:
    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data
        self.changelog_topic = _Topic()


class RecordingSection:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, key: bytes, value: bytes | None) -> None:
        self.sent.append((topic, key, value))


def test_reads_come_from_the_store_and_this_records_changes_first() -> None:
    table = FakeTable({b"a": b'{"n": 1}', b"b": b"[1, 2]"})
    state = TableState(table)
    assert state.changelog_topic == "dwf-claims-drift-changelog"
    assert state["a"] == {"n": 1}
    assert state["b"] == [1, 2]
    with pytest.raises(KeyError):
        state["missing"]
    state["a"] = {"n": 2}
    assert state["a"] == {"n": 2}  # the change, not the store
    assert table.data[b"a"] == b'{"n": 1}'  # the store is untouched until flush
    assert state.pending == 1
    assert "a" in state and "b" in state and "c" not in state
    assert 1 not in state  # only string keys


def test_a_deleted_key_is_gone_and_deleting_an_absent_key_is_a_key_error() -> None:
    state = TableState(FakeTable({b"a": b"1", b"b": b"2"}))
    del state["a"]
    assert "a" not in state
    with pytest.raises(KeyError):
        state["a"]
    with pytest.raises(KeyError):
        del state["nope"]
    state["c"] = 3
    assert list(state) == ["b", "c"]  # sorted; the deleted key left out, the new one in
    assert len(state) == 2


def test_flush_sends_each_change_through_the_section_and_applies_it() -> None:
    table = FakeTable({b"a": b"1", b"gone": b"2"})
    state = TableState(table)
    state["a"] = {"z": 1, "a": [True, None]}
    state["new"] = "x"
    del state["gone"]
    section = RecordingSection()
    assert asyncio.run(state.flush(section)) == 3
    topic = "dwf-claims-drift-changelog"
    assert sorted(section.sent, key=lambda s: s[1]) == [
        (topic, b"a", b'{"a":[true,null],"z":1}'),
        (topic, b"gone", None),
        (topic, b"new", b'"x"'),
    ]
    assert table.data == {b"a": b'{"a":[true,null],"z":1}', b"new": b'"x"'}
    assert state.pending == 0
    assert state["a"] == {"z": 1, "a": [True, None]}  # read back from the store


def test_flush_forgets_values_read_so_the_next_record_reads_the_store() -> None:
    table = FakeTable({b"a": b"1"})
    state = TableState(table)
    assert state["a"] == 1
    asyncio.run(state.flush(RecordingSection()))
    table.data[b"a"] = b"5"  # the store changed (a restored changelog)
    assert state["a"] == 5


def test_discard_drops_this_records_changes() -> None:
    table = FakeTable({b"a": b"1"})
    state = TableState(table)
    state["a"] = 2
    del state["a"]
    state["b"] = 3
    state.discard()
    assert state.pending == 0
    assert state["a"] == 1 and "b" not in state
    section = RecordingSection()
    assert asyncio.run(state.flush(section)) == 0 and section.sent == []


keys = st.sampled_from(["a", "b", "c"])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, st.one_of(st.none(), st.integers(-3, 3))),
        st.tuples(st.just("del"), keys, st.none()),
        st.tuples(st.just("read"), keys, st.none()),
        st.tuples(st.just("flush"), keys, st.none()),
    ),
    max_size=12,
)


@given(ops, st.sampled_from([None, 0, "d"]))
def test_get_answers_as_mappings_get_after_any_changes(steps: list[Any], default: Any) -> None:
    """``TableState.get`` (its own, for speed) against ``Mapping.get``'s definition, ``self[key]`` or the
    default: after any sets (None values included), deletes, reads and flushes."""
    state = TableState(FakeTable({b"a": b"1", b"b": b"null"}))
    for op, key, value in steps:
        if op == "set":
            state[key] = value
        elif op == "del" and key in state:
            del state[key]
        elif op == "read" and key in state:
            state[key]
        elif op == "flush":
            asyncio.run(state.flush(RecordingSection()))
        for k in ("a", "b", "c"):
            assert state.get(k, default) == Mapping.get(state, k, default)
            assert state.get(k) == Mapping.get(state, k)


def test_get_of_a_key_changed_or_read_already_does_not_read_again() -> None:
    reads: list[str] = []

    class Counted(TableState):
        def __getitem__(self, key: str) -> Any:
            reads.append(key)
            return super().__getitem__(key)

    state = Counted(FakeTable({b"a": b"1"}))
    assert state.get("a") == 1 and reads == ["a"]  # from the store, once
    state["b"] = 2
    assert (state.get("a"), state.get("b"), state.get("c", 7)) == (1, 2, 7)
    assert reads == ["a", "c"]  # "a" read already, "b" this record's change: no second read


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
        (300, b"\xd8\x04"),
        (2**31, b"\x80\x80\x80\x80\x10"),
    ],
)
def test_varint_is_avros_zigzag_long(n: int, encoded: bytes) -> None:
    assert _varint(n) == encoded


def test_source_headers_say_where_a_message_came_from_and_why() -> None:
    headers = source_headers("poison", "dwf.c.in", 3, 42, "e" * 5000, None)
    assert [k for k, _ in headers] == [
        "dwf-kind",
        "dwf-source-topic",
        "dwf-source-partition",
        "dwf-source-offset",
        "dwf-error",
        "dwf-schema-id",
    ]
    values = dict(headers)
    assert values["dwf-kind"] == b"poison"
    assert values["dwf-source-partition"] == b"3" and values["dwf-source-offset"] == b"42"
    assert values["dwf-error"] == b"e" * 4000  # cut: a header is no place for a whole traceback
    assert values["dwf-schema-id"] == b""
    assert dict(source_headers("decision", "t", 0, 0, "", 7))["dwf-schema-id"] == b"7"


def test_header_map_reads_every_shape_the_client_returns() -> None:
    assert header_map([("a", b"1"), ("b", bytearray(b"2"))]) == {"a": "1", "b": "2"}
    assert header_map((("a", "x"),)) == {"a": "x"}
    assert header_map({"a": b"1"}) == {"a": "1"}
    assert header_map(None) == {}


def _envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "event_id": "r1/check",
        "run_id": "r1",
        "workflow": "claims",
        "workflow_version": 3,
        "step": "check",
        "payload": {"amount": 12.5, "note": "é"},
        "produced_at": 1_700_000_000_000_000,
        "attempt": 2,
        "provenance": {"error": "boom"},
        "chain_seq": 4,
        "chain_hash": "ab" * 32,
    }
    fields.update(changes)
    return Envelope(**fields)


def test_a_mixed_envelope_round_trips_with_its_schema_id(tmp_path: Path) -> None:
    codec = WireCodec(FileRegistry(tmp_path))
    env = _envelope()
    data = codec.encode_mixed(env)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == codec.mixed_sid  # Confluent wire format
    back = codec.decode_mixed(data)
    assert back == env


def test_a_message_that_is_not_the_expected_record_is_poison(tmp_path: Path) -> None:
    codec = WireCodec(FileRegistry(tmp_path))
    data = codec.encode_mixed(_envelope())
    with pytest.raises(PoisonMessageError, match=r"too short for the wire format \(4 bytes\)"):
        codec.decode_mixed(data[:4])
    with pytest.raises(PoisonMessageError, match="with magic byte 0"):
        codec.decode_mixed(b"\x01" + data[1:])
    wrong_id = data[:1] + (codec.audit_sid).to_bytes(4, "big") + data[5:]
    with pytest.raises(PoisonMessageError, match=f"expected schema id {codec.mixed_sid}"):
        codec.decode_mixed(wrong_id)
    with pytest.raises(PoisonMessageError, match=f"not valid Avro for schema {codec.mixed_sid}"):
        codec.decode_mixed(data[:5] + b"\xff\xff")
