"""``AvroCodec.attribute_encoder`` (the C plan's ``encode_attrs``): a record's encoding read from an object's
attributes, the bytes and errors of ``encode`` of the dict of those attributes, without the dict."""

from __future__ import annotations

import gc
import io
import tracemalloc
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.schemas.codec import ACCELERATOR_BUILT, ACCELERATOR_ERROR, compile_schema
from dana_workflows.sinks.audit_model import COLUMNS, AuditRow
from dana_workflows.streams.kafka.wire import AUDIT_ROW_SCHEMA

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not ACCELERATOR_BUILT, reason=f"C accelerator not built: {ACCELERATOR_ERROR}"),
]

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=40)  # any code point but lone surrogates (those are refused: tested below)
ROWS = st.builds(
    AuditRow,
    workflow=TEXT,
    workflow_version=INT32,
    run_id=TEXT,
    seq=INT32,
    event_id=TEXT,
    step=TEXT,
    kind=TEXT,
    decision=TEXT,
    reason=TEXT,
    rule_results=TEXT,
    attempt=INT32,
    duration_us=INT64,
    details=TEXT,
    ts_us=INT64,
    prev_hash=TEXT,
    hash=TEXT,
)
PARSED = fastavro.parse_schema(AUDIT_ROW_SCHEMA)


def fastavro_bytes(row: AuditRow) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, PARSED, row.as_dict())
    return buf.getvalue()


def encoders() -> tuple[Any, Any]:
    codec = compile_schema(AUDIT_ROW_SCHEMA, accelerate=True)
    assert codec.attribute_encoder is not None
    return codec.attribute_encoder, codec.encoder


def outcome(call: Any) -> Any:
    """What a call gives: its value, or its error's type and message."""
    try:
        return call()
    except Exception as exc:  # compared, not handled
        return (type(exc), str(exc))


@settings(max_examples=300)
@given(st.lists(ROWS, max_size=12))
def test_the_rows_bytes_are_fastavros_and_the_dict_encoders(rows: list[AuditRow]) -> None:
    encode_attrs, encode = encoders()
    got = encode_attrs(rows)
    assert got == [fastavro_bytes(r) for r in rows]
    assert got == [encode(r.as_dict(), b"") for r in rows]


class Text(str):
    """A str subclass: the encoder hands it to the codec's helper, as for a dict's value."""


class Number(int):
    pass


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("run_id", 5),  # not a string
        ("run_id", None),
        ("run_id", "\ud800"),  # a lone surrogate: no UTF-8
        ("run_id", Text("sub")),  # converted by the helper
        ("seq", 2**31),  # past an Avro int
        ("seq", "7"),
        ("seq", True),  # a bool is an int to Python: what the dict path does with it
        ("seq", Number(3)),
        ("ts_us", 2**63),  # past an Avro long
        ("ts_us", 1.5),
        ("hash", b"bytes"),
    ],
)
def test_an_odd_value_gives_the_dict_paths_bytes_or_error(column: str, value: Any) -> None:
    encode_attrs, encode = encoders()
    row = AuditRow("w", 1, "r", 0, "e", "s", "k")
    setattr(row, column, value)
    expected = outcome(lambda: [encode(row.as_dict(), b"")])
    assert outcome(lambda: encode_attrs([row])) == expected
    # the rows before and after it change nothing: the whole call gives that error, or all the bytes
    good = AuditRow("w", 2, "r", 1, "e", "s", "k")
    both = outcome(lambda: encode_attrs([good, row, good]))
    if isinstance(expected, list):
        assert both == [encode(good.as_dict(), b""), *expected, encode(good.as_dict(), b"")]
    else:
        assert both == expected


def test_objects_of_any_class_are_read_by_their_attributes() -> None:
    """A plain object, a class whose field is a property, a subclass, a class whose __getattribute__
    changes a value: what getattr gives is encoded, as the dict display of the attributes would read."""
    encode_attrs, encode = encoders()
    row = AuditRow("w", 1, "r", 0, "e", "s", "k", "d", "why", "[]", 2, 30, "{}", 40, "p", "h")
    as_dict = row.as_dict()

    class Sub(AuditRow):
        pass

    class Loud(AuditRow):
        def __getattribute__(self, name: str) -> Any:
            value = object.__getattribute__(self, name)
            return value.upper() if name == "kind" else value

    class Computed:
        __slots__ = tuple(c for c in COLUMNS if c != "hash")

        @property
        def hash(self) -> str:
            return "computed"

    computed = Computed()
    for c in Computed.__slots__:
        setattr(computed, c, as_dict[c])
    objects = [SimpleNamespace(**as_dict), Sub(**as_dict), Loud(**as_dict), computed, row]
    expected = [
        encode(as_dict, b""),
        encode(as_dict, b""),
        encode({**as_dict, "kind": "K"}, b""),
        encode({**as_dict, "hash": "computed"}, b""),
        encode(as_dict, b""),
    ]
    assert encode_attrs(objects) == expected
    assert encode_attrs(objects) == expected  # again, with the slot offsets cached for the last class


def test_a_slot_descriptor_of_another_class_is_read_by_name_not_by_its_offset() -> None:
    """A member descriptor copied from another class onto a class is not that class's slot: getattr
    refuses it (TypeError), and so must the encoder, not read memory at the other class's offset."""
    encode_attrs, _ = encoders()
    borrowed = type("Borrowed", (), {c: AuditRow.__dict__[c] for c in COLUMNS})
    with pytest.raises(TypeError):
        encode_attrs([borrowed()])


def test_a_missing_attribute_is_getattrs_error() -> None:
    encode_attrs, _ = encoders()
    unset = AuditRow("w", 1, "r", 0, "e", "s", "k")
    as_dict = unset.as_dict()
    del unset.reason  # an unset slot
    with pytest.raises(AttributeError, match="reason"):
        encode_attrs([unset])
    partial = SimpleNamespace(**{c: v for c, v in as_dict.items() if c != "hash"})
    with pytest.raises(AttributeError, match="hash"):
        encode_attrs([partial])


def test_any_iterable_of_objects_and_only_a_record_plan() -> None:
    encode_attrs, encode = encoders()
    rows = [AuditRow("w", i, "r", i, "e", "s", "k") for i in range(3)]
    expected = [encode(r.as_dict(), b"") for r in rows]
    assert encode_attrs(tuple(rows)) == encode_attrs(iter(rows)) == expected
    assert encode_attrs([]) == []
    with pytest.raises(TypeError):
        encode_attrs(5)
    not_a_record = compile_schema({"type": "array", "items": "string"}, accelerate=True)
    assert not_a_record.attribute_encoder is not None
    with pytest.raises(TypeError, match="record"):
        not_a_record.attribute_encoder(rows)


def test_a_row_larger_than_the_stack_buffer() -> None:
    encode_attrs, encode = encoders()
    rows = [AuditRow("w", 1, "r", 0, "e", "s", "k", details="x" * n) for n in (10, 5000, 20, 100_000, 3)]
    assert encode_attrs(rows) == [encode(r.as_dict(), b"") for r in rows]


def test_the_python_codec_has_no_attribute_encoder() -> None:
    assert compile_schema(AUDIT_ROW_SCHEMA, accelerate=False).attribute_encoder is None


def test_a_large_row_leaves_no_memory_behind_whether_it_encodes_or_raises() -> None:
    """A row larger than the stack buffer is encoded in a buffer from PyMem_Malloc, which tracemalloc
    traces: 1,000 calls over such rows, and over calls that raise after the buffer grew (a large row then
    a bad one; a large row whose last field is bad), leave the traced memory about where it was. A buffer
    not freed would keep ~5-10 KB a call, megabytes in all; the bound allows the interpreter's own noise."""
    encode, _ = encoders()
    big = AuditRow("w", 1, "r", 0, "e", "s", "k", details="x" * 5000)
    bad = AuditRow("w", 1, "r", 0, "e", "s", "k", details="x" * 5000, hash=5)  # type: ignore[arg-type]
    calls = [
        ([big], None),
        ([big, big], None),
        ([big, SimpleNamespace()], AttributeError),
        ([bad], TypeError),
    ]

    def run(times: int) -> None:
        for _ in range(times):
            for rows, error in calls:
                if error is None:
                    assert len(encode(rows)) == len(rows)
                else:
                    with pytest.raises(error):
                        encode(rows)

    run(20)  # the first calls' one-time allocations (exception types' caches, interned names)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(250)  # 1,000 calls
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024
