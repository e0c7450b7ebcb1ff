"""The compiled Avro codec against byte strings worked out by hand from the Avro 1.11 specification.

Spec rules used (https://avro.apache.org/docs/1.11.1/specification/#binary-encoding):
- int and long: zig-zag (n << 1) ^ (n >> 63), then a varint of 7-bit groups, low group first, the high bit
  set on every byte but the last;
- a union: the branch index as a long, then the value;
- an array or a map: blocks of a long count then the items; a negative count -n is followed by the block's
  size in bytes (a long) and n items; a count of 0 ends it;
- double: 8 bytes little-endian IEEE 754, float 4 bytes; bytes/string: a long length then the data.

Plus the codec's own documented contract (schemas/codec.py module doc): errors name the field, malformed
input raises instead of returning made-up data, union branches are picked as fastavro.validation does.
Every test runs on the generated Python code and on the C executor (when built).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from dana_workflows.schemas.codec import ACCELERATOR_BUILT, AvroCodec, compile_schema

pytestmark = pytest.mark.unit


@pytest.fixture(params=[False, True], ids=["python", "c"])
def accelerate(request: pytest.FixtureRequest) -> bool:
    if request.param and not ACCELERATOR_BUILT:
        pytest.skip("the Avro C accelerator is not built")
    return bool(request.param)


def _record(ftype: Any, name: str = "v") -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": [{"name": name, "type": ftype}]}


def _codec(ftype: Any, accelerate: bool) -> AvroCodec:
    codec = compile_schema(_record(ftype), accelerate=accelerate)
    assert codec.implementation == ("c" if accelerate else "python")
    return codec


def _varint(n: int) -> bytes:
    """The spec's varint of an already zig-zagged value, written out group by group."""
    out = bytearray()
    while True:
        group = n & 0x7F
        n >>= 7
        if n:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


# -- longs and ints: zig-zag varints of every length -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
        (8191, b"\xfe\x7f"),
        (-8193, b"\x81\x80\x01"),
        (2**20, b"\x80\x80\x80\x01"),
        (2**48, b"\x80\x80\x80\x80\x80\x80\x80\x01"),  # zig-zag 2**49: 8 bytes
        (2**55 - 1, b"\xfe\xff\xff\xff\xff\xff\xff\x7f"),  # zig-zag 2**56 - 2: the largest 8-byte varint
        (2**55, b"\x80\x80\x80\x80\x80\x80\x80\x80\x01"),  # zig-zag 2**56: 9 bytes
        (-(2**55) - 1, b"\x81\x80\x80\x80\x80\x80\x80\x80\x01"),
        (2**56, b"\x80\x80\x80\x80\x80\x80\x80\x80\x02"),  # zig-zag 2**57
        (2**62, b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"),  # 10 bytes
        (2**63 - 1, b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        (-(2**63), b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
    ],
)
def test_long_known_answers(accelerate: bool, value: int, encoded: bytes) -> None:
    codec = _codec("long", accelerate)
    assert encoded == _varint((value << 1) ^ (value >> 63))  # the table agrees with the spec's rule
    assert codec.encode({"v": value}) == encoded
    assert codec.decode(encoded) == {"v": value}
    assert codec.decode(b"\x00\x00" + encoded, offset=2) == {"v": value}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(2**31 - 1, b"\xfe\xff\xff\xff\x0f"), (-(2**31), b"\xff\xff\xff\xff\x0f"), (300, b"\xd8\x04")],
)
def test_int_known_answers(accelerate: bool, value: int, encoded: bytes) -> None:
    codec = _codec("int", accelerate)
    assert codec.encode({"v": value}) == encoded
    assert codec.decode(encoded) == {"v": value}


def test_ints_past_32_bits_are_refused_naming_the_field(accelerate: bool) -> None:
    codec = _codec("int", accelerate)
    for value in (2**31, -(2**31) - 1):
        with pytest.raises(ValueError, match="value out of range for int on field v"):
            codec.encode({"v": value})
    with pytest.raises(ValueError, match="int out of 32-bit range"):
        codec.decode(b"\x80\x80\x80\x80\x10")  # zig-zag 2**32: 2**31 does not fit an int


def test_longs_past_64_bits_are_refused(accelerate: bool) -> None:
    codec = _codec("long", accelerate)
    with pytest.raises(ValueError, match="value out of range for long on field v"):
        codec.encode({"v": 2**63})
    with pytest.raises(ValueError, match="value out of range for long on field v"):
        codec.encode({"v": -(2**63) - 1})


# -- unions: the branch index, and which branch a value takes ----------------------------------------------


def test_an_int_at_the_edge_of_32_bits_takes_the_int_branch(accelerate: bool) -> None:
    codec = _codec(["int", "long"], accelerate)
    assert codec.encode({"v": 2**31 - 1}) == b"\x00" + b"\xfe\xff\xff\xff\x0f"
    assert codec.encode({"v": -(2**31)}) == b"\x00" + b"\xff\xff\xff\xff\x0f"
    assert codec.encode({"v": 2**31}) == b"\x02" + b"\x80\x80\x80\x80\x10"  # past int: the long branch
    assert codec.decode(b"\x02\x80\x80\x80\x80\x10") == {"v": 2**31}


def test_a_float_branch_is_kept_unless_a_double_follows(accelerate: bool) -> None:
    one_and_half_f = struct.pack("<f", 1.5)
    assert _codec(["float", "string"], accelerate).encode({"v": 1.5}) == b"\x00" + one_and_half_f
    # an int is a valid float too (fastavro.validation): the first branch wins over a later int
    assert _codec(["float", "int"], accelerate).encode({"v": 1}) == b"\x00" + struct.pack("<f", 1.0)
    assert _codec(["float", "int", "double"], accelerate).encode({"v": 1.5}) == b"\x04" + struct.pack(
        "<d", 1.5
    )
    assert _codec(["string", "float"], accelerate).encode({"v": 2.0}) == b"\x02" + struct.pack("<f", 2.0)


def test_a_value_matching_no_branch_is_refused_naming_the_field(accelerate: bool) -> None:
    with pytest.raises(ValueError, match="on field v"):
        _codec(["int", "string"], accelerate).encode({"v": 1.5})


# -- blocks: counts, negative counts with sizes, bounds ------------------------------------------------


def test_a_negative_block_count_of_zero_size_items_has_size_zero(accelerate: bool) -> None:
    codec = _codec({"type": "array", "items": "null"}, accelerate)
    # count -2 (zig-zag 3), block size 0 bytes (two nulls take none), end of array
    assert codec.decode(b"\x03\x00\x00") == {"v": [None, None]}
    with pytest.raises(ValueError, match="bad block size -1"):
        codec.decode(b"\x03\x01\x00")


def test_an_array_of_doubles_that_exactly_fills_the_data_is_not_refused(accelerate: bool) -> None:
    codec = _codec({"type": "array", "items": "double"}, accelerate)
    data = b"\x04" + struct.pack("<dd", 1.0, 2.0) + b"\x00"
    assert codec.encode({"v": [1.0, 2.0]}) == data
    assert codec.decode(data) == {"v": [1.0, 2.0]}
    floats = _codec({"type": "array", "items": "float"}, accelerate)
    data = b"\x06" + struct.pack("<fff", 1.0, 2.0, 3.0) + b"\x00"
    assert floats.decode(data) == {"v": [1.0, 2.0, 3.0]}
    with pytest.raises(ValueError, match="block count 4 at offset 1 is larger than the bytes left"):
        floats.decode(b"\x08" + struct.pack("<fff", 1.0, 2.0, 3.0) + b"\x00")


def test_records_of_doubles_bound_the_block_count_by_their_size(accelerate: bool) -> None:
    item = {
        "type": "record",
        "name": "P",
        "fields": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
    }
    codec = _codec({"type": "array", "items": item}, accelerate)
    one = b"\x02" + struct.pack("<dd", 1.0, 2.0) + b"\x00"
    assert codec.decode(one) == {"v": [{"x": 1.0, "y": 2.0}]}
    with pytest.raises(ValueError, match="block count 2 at offset 1 is larger than the bytes left"):
        codec.decode(b"\x04" + struct.pack("<dd", 1.0, 2.0) + b"\x00")


def test_a_map_block_count_is_bounded_by_key_and_value_bytes(accelerate: bool) -> None:
    codec = _codec({"type": "map", "values": "long"}, accelerate)
    assert codec.encode({"v": {"k": 1}}) == b"\x02" + b"\x02k" + b"\x02" + b"\x00"
    assert codec.decode(b"\x02\x02k\x02\x00") == {"v": {"k": 1}}
    # 2 entries announced, 3 bytes left: each entry takes at least a key length and a value byte
    with pytest.raises(ValueError, match="block count 2 at offset 1 is larger than the bytes left"):
        codec.decode(b"\x04\x02k\x02")
    nulls = _codec({"type": "map", "values": "null"}, accelerate)
    assert nulls.decode(b"\x04\x02a\x02b\x00") == {"v": {"a": None, "b": None}}
    # 6 entries announced, 5 bytes left: each takes at least its key's length byte
    with pytest.raises(ValueError, match="block count 6 at offset 1"):
        nulls.decode(b"\x0c\x02a\x02b\x00")


def test_a_long_array_uses_a_multi_byte_count(accelerate: bool) -> None:
    codec = _codec({"type": "array", "items": "boolean"}, accelerate)
    values = [i % 3 == 0 for i in range(70)]
    data = b"\x8c\x01" + bytes(int(v) for v in values) + b"\x00"  # count 70: zig-zag 140 = 0x8c 0x01
    assert codec.encode({"v": values}) == data
    assert codec.decode(data) == {"v": values}


# -- bytes and strings: lengths and their errors -------------------------------------------------------


def test_bytes_whose_length_runs_past_the_end_say_where(accelerate: bool) -> None:
    codec = _codec("bytes", accelerate)
    with pytest.raises(EOFError) as err:
        codec.decode(b"\x80\x01abc")  # length 64 (two-byte varint), 3 bytes there
    assert str(err.value) == "length 64 at offset 2 runs past the end (5 bytes)"


def test_strings_of_every_length_prefix(accelerate: bool) -> None:
    codec = _codec("string", accelerate)
    for n, prefix in (
        (0, b"\x00"),
        (63, b"\x7e"),
        (64, b"\x80\x01"),
        (4095, b"\xfe\x3f"),
        (4096, b"\x80\x40"),
    ):
        data = prefix + b"a" * n
        assert codec.encode({"v": "a" * n}) == data
        assert codec.decode(data) == {"v": "a" * n}
    big = "é" * 5000  # 10,000 bytes: a 2-byte length past the prefix table
    assert codec.encode({"v": big}) == b"\xa0\x9c\x01" + big.encode()
    assert codec.decode(b"\xa0\x9c\x01" + big.encode()) == {"v": big}


# -- type errors name the value's type and the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("ftype", "value", "message"),
    [
        ({"type": "map", "values": "long"}, [1], "must be map (got list) on field v"),
        ({"type": "array", "items": "long"}, "ab", "must be array (got str) on field v"),
        ({"type": "array", "items": "long"}, {"a": 1}, "must be array (got dict) on field v"),
        ("bytes", "text", "must be bytes (got str) on field v"),
        ("double", "1.5", "must be double (got str) on field v"),
        ("long", 1.0, "must be long (got float) on field v"),
        ("int", True, "must be int (got bool) on field v"),
        ("boolean", 1, "must be boolean (got int) on field v"),
        ("string", b"x", "must be string (got bytes) on field v"),
        ({"type": "long", "logicalType": "timestamp-micros"}, "2024", "must be long (got str) on field v"),
    ],
)
def test_type_errors_name_the_type_and_field(accelerate: bool, ftype: Any, value: Any, message: str) -> None:
    with pytest.raises(TypeError) as err:
        _codec(ftype, accelerate).encode({"v": value})
    assert str(err.value) == message


def test_a_nested_record_that_is_not_a_mapping_names_its_field(accelerate: bool) -> None:
    inner = {"type": "record", "name": "In", "fields": [{"name": "a", "type": "long"}]}
    with pytest.raises(TypeError) as err:
        _codec(inner, accelerate).encode({"v": 5})
    assert str(err.value) == "must be record (got int) on field v"


# -- timestamp-micros: naive datetimes are local time ---------------------------------------------------


@pytest.fixture
def utc_plus_2() -> Iterator[None]:
    """The process's local time zone set to a fixed UTC+2 (POSIX TZ: 'XXX-2'), restored afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XXX-2"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_a_naive_datetime_is_read_as_local_time(accelerate: bool, utc_plus_2: None) -> None:
    codec = _codec({"type": "long", "logicalType": "timestamp-micros"}, accelerate)
    # 1970-01-01 02:00:00.000007 at UTC+2 is 7 microseconds after the epoch
    assert codec.encode({"v": datetime(1970, 1, 1, 2, 0, 0, 7)}) == b"\x0e"
    # 2024-01-02 05:04:05.000006 at UTC+2 is 2024-01-02T03:04:05.000006Z = 1704164645000006 us
    expected = 1704164645000006
    assert codec.encode({"v": datetime(2024, 1, 2, 5, 4, 5, 6)}) == _varint(expected << 1)
    assert codec.decode(_varint(expected << 1)) == {"v": expected}  # decoded as plain micros


# -- named types ---------------------------------------------------------------------------------------


def test_a_named_type_used_again_by_name_encodes_the_same(accelerate: bool) -> None:
    point = {"type": "record", "name": "Point", "namespace": "geo", "fields": [{"name": "x", "type": "int"}]}
    schema = {
        "type": "record",
        "name": "Line",
        "namespace": "geo",
        "fields": [
            {"name": "a", "type": point},
            {"name": "b", "type": "Point"},
            {"name": "c", "type": "geo.Point"},
        ],
    }
    codec = compile_schema(schema, accelerate=accelerate)
    assert codec.implementation == ("c" if accelerate else "python")  # no silent fallback
    value = {"a": {"x": 1}, "b": {"x": -1}, "c": {"x": 64}}
    assert codec.encode(value) == b"\x02" + b"\x01" + b"\x80\x01"
    assert codec.decode(b"\x02\x01\x80\x01") == value


def test_a_nested_record_inherits_the_enclosing_namespace(accelerate: bool) -> None:
    point = {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]}  # no namespace
    schema = {
        "type": "record",
        "name": "Line",
        "namespace": "geo",
        "fields": [
            {"name": "a", "type": point},
            {"name": "b", "type": "geo.Point"},
            {"name": "c", "type": {"type": "Point"}},
        ],
    }
    codec = compile_schema(schema, accelerate=accelerate)
    assert codec.implementation == ("c" if accelerate else "python")  # no silent fallback
    assert codec.encode({"a": {"x": 0}, "b": {"x": 1}, "c": {"x": 2}}) == b"\x00\x02\x04"
    assert codec.decode(b"\x00\x02\x04") == {"a": {"x": 0}, "b": {"x": 1}, "c": {"x": 2}}


def test_an_error_type_is_a_record(accelerate: bool) -> None:
    err = {
        "type": "error",
        "name": "Oops",
        "fields": [{"name": "code", "type": "int"}, {"name": "m", "type": "string"}],
    }
    codec = _codec(err, accelerate)
    assert codec.encode({"v": {"code": -3, "m": "no"}}) == b"\x05\x04no"
    assert codec.decode(b"\x05\x04no") == {"v": {"code": -3, "m": "no"}}


def test_missing_fields_take_their_default_or_null(accelerate: bool) -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "n", "type": ["null", "string"]},  # nullable, no default: None
            {"name": "s", "type": ["string", "null"]},  # null second: index 1
            {"name": "d", "type": "long", "default": 64},
            {"name": "r", "type": "string"},
        ],
    }
    codec = compile_schema(schema, accelerate=accelerate)
    assert codec.implementation == ("c" if accelerate else "python")  # no silent fallback
    assert codec.encode({"r": "x"}) == b"\x00" + b"\x02" + b"\x80\x01" + b"\x02x"
    assert (
        codec.encode({"n": "a", "s": "b", "d": 0, "r": ""}) == b"\x02\x02a" + b"\x00\x02b" + b"\x00" + b"\x00"
    )
    with pytest.raises(ValueError, match="no value and no default for r"):
        codec.encode({})
