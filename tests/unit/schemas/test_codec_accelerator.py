"""The C executor (schemas/_avrofast.c) against the generated Python codec, value for value.

tests/unit/schemas/test_codec.py runs its whole suite on both; here the two are compared directly on inputs
only the fallback paths see (odd types, mutation during encoding, corrupted bytes), and the build is
checked: where a C compiler and the Python headers exist, a missing accelerator is a failure, so it
cannot silently disappear from CI.
"""

from __future__ import annotations

import array
import enum
import math
import random
import shutil
import struct
import sysconfig
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.codec import (
    _HELPERS,
    ACCELERATOR_BUILT,
    ACCELERATOR_ERROR,
    PURE_ENV,
    AvroCodec,
    compile_schema,
)
from dana_workflows.workflow.ir import FieldIR

from .test_codec import DECODE_ERRORS, random_envelope, same

pytestmark = pytest.mark.unit


def test_the_accelerator_is_built_where_a_compiler_exists() -> None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which(cc) is None or not headers.exists():
        pytest.skip(f"no {cc} or no {headers}: the generated Python codec is the expected fallback")
    assert ACCELERATOR_BUILT, (
        f"{cc} and the Python headers exist but schemas._avrofast does not import ({ACCELERATOR_ERROR}); "
        "build it with: pip install -e '.[dev]'"
    )


needs_c = pytest.mark.skipif(not ACCELERATOR_BUILT, reason=f"C accelerator not built: {ACCELERATOR_ERROR}")


@needs_c
def test_environment_variable_forces_the_python_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = envelope_schema("w", "b", [])
    monkeypatch.delenv(PURE_ENV, raising=False)
    assert compile_schema(schema).implementation == "c"
    monkeypatch.setenv(PURE_ENV, "0")
    assert compile_schema(schema).implementation == "c"
    monkeypatch.setenv(PURE_ENV, "1")
    assert compile_schema(schema).implementation == "python"
    assert compile_schema(schema, accelerate=True).implementation == "c"


def test_requiring_a_missing_accelerator_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where it is built too: the module is made to look as it does on a machine without a compiler."""
    from dana_workflows.schemas import codec

    monkeypatch.setattr(codec, "_FAST", None)
    monkeypatch.setattr(codec, "ACCELERATOR_ERROR", "No module named 'dana_workflows.schemas._avrofast'")
    with pytest.raises(RuntimeError, match=r"not built \(No module named .*\): pip install"):
        compile_schema(envelope_schema("w", "b", []), accelerate=True)


# ---------------------------------------------------------------- differential encoding

FIELDS = [
    FieldIR(name="s", type="string"),
    FieldIR(name="l", type="long"),
    FieldIR(name="i", type="int"),
    FieldIR(name="d", type="double"),
    FieldIR(name="f", type="float"),
    FieldIR(name="b", type="boolean"),
    FieldIR(name="o", type="string", optional=True),
]
EXTRA = [
    {"name": "raw", "type": "bytes", "default": b""},
    {"name": "u", "type": ["null", "string", "long", "double", "boolean"], "default": None},
    {"name": "ts", "type": [{"type": "long", "logicalType": "timestamp-micros"}, "null"], "default": 0},
    {"name": "xs", "type": {"type": "array", "items": "double"}, "default": []},
    {"name": "m", "type": {"type": "map", "values": ["null", "long"]}, "default": {}},
    {"name": "md", "type": {"type": "map", "values": "double"}, "default": {}},
    {
        "name": "recs",
        "type": {
            "type": "array",
            "items": {"type": "record", "name": "Item", "fields": [{"name": "k", "type": "string"}]},
        },
        "default": [],
    },
    {"name": "tail", "type": "int"},
]


def _schema() -> dict[str, Any]:
    base = envelope_schema("w", "b", FIELDS)
    return {**base, "fields": [*base["fields"], *EXTRA]}


def _codecs() -> tuple[AvroCodec, AvroCodec]:
    schema = _schema()
    return compile_schema(schema, accelerate=False), compile_schema(schema, accelerate=True)


def _good() -> dict[str, Any]:
    rec = random_envelope(random.Random(11), FIELDS)
    rec["payload"] = {"s": "x", "l": 5, "i": -3, "d": 1.5, "f": 0.25, "b": True, "o": None}
    rec.update(raw=b"\x00\xff", u="y", ts=7, xs=[1.0], m={"a": 1, "b": None}, recs=[{"k": "v"}], tail=9)
    return rec


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Real(float):
    pass


class Boom:
    """Converts to float but also clears the list it sits in: encoding must stay memory-safe."""

    def __init__(self, owner: list[Any] | dict[str, Any]) -> None:
        self.owner = owner

    def __float__(self) -> float:
        if isinstance(self.owner, list):
            self.owner.clear()
        else:
            self.owner["grown"] = 1
        return 2.0


class Weird(Mapping[str, Any]):
    """A Mapping that is not a dict: records and maps go through the generic paths."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


POOL: list[Any] = [
    None, True, False, 0, -1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**400, Color.RED, 1.5, math.nan,
    -math.inf, 3.5e38, Real(2.5), Fraction(1, 3), "s", "", "é🎉", "bad \ud800", Text("sub"), b"b",
    bytearray(b"ba"), memoryview(b"mv"), [], [1.0, 2], (1.0,), array.array("d", [1.0]), {}, {"a": 1},
    {1: 2}, OrderedDict(a=1), MappingProxyType({"a": None}), defaultdict(int), object(),
    datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 1, 12, 30),
]  # fmt: skip

PATHS = [
    ("payload", "s"), ("payload", "l"), ("payload", "i"), ("payload", "d"), ("payload", "f"),
    ("payload", "b"), ("payload", "o"), (None, "raw"), (None, "u"), (None, "ts"), (None, "xs"),
    (None, "m"), (None, "md"), (None, "recs"), (None, "tail"), (None, "produced_at"), (None, "payload"),
    ("provenance", "reasons"), ("provenance", "knowledge_versions"), ("provenance", "rule_results"),
]  # fmt: skip


def _good_with(parent: str | None, key: str, value: object) -> dict[str, Any]:
    """A good record with one field (top-level or in ``parent``) set to ``value``, or left out ("missing")."""
    rec = _good()
    target = rec
    if parent is not None:
        target = rec[parent] = dict(rec[parent])
    if value == "missing":
        target.pop(key, None)
    else:
        target[key] = value
    return rec


@needs_c
@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(x for x in p if x))
def test_same_bytes_or_same_error_for_odd_values(path: tuple[str | None, str]) -> None:
    py, c = _codecs()
    assert (py.implementation, c.implementation) == ("python", "c")
    parent, key = path
    for value in [*POOL, "missing"]:
        rec = _good_with(parent, key, value)
        expected = outcome(lambda r=rec: py.encode(r))
        assert outcome(lambda r=rec: c.encode(r)) == expected, (path, value)


@needs_c
def test_generic_containers_and_mutation_during_encoding() -> None:
    py, c = _codecs()
    records: list[Any] = [None, [], "x", Weird(_good()), MappingProxyType(_good()), OrderedDict(_good())]
    for shape in ("list", "dict"):
        rec = _good()
        if shape == "list":
            rec["xs"] = xs = [1.0, 2.0, 3.0]
            xs[0] = Boom(xs)
        else:  # the map grows while it is being written: both raise RuntimeError
            rec["md"] = md = {"a": 1.0, "b": 2.0}
            md["a"] = Boom(md)
        records.append(rec)
    nested = _good()
    nested["payload"] = Weird(dict(nested["payload"]))
    nested["provenance"] = Weird({**nested["provenance"], "knowledge_versions": Weird({"k": "v"})})
    records.append(nested)
    for rec in records:
        assert outcome(lambda r=rec: c.encode(r)) == outcome(lambda r=rec: py.encode(r)), rec
    assert outcome(lambda: c.encode(_good(), b"\x00\x01")) == ("ok", b"\x00\x01" + py.encode(_good()))


@needs_c
def test_module_functions_and_plan_validation() -> None:
    from dana_workflows.schemas import _avrofast

    _, c = _codecs()
    data = c.encode(_good())
    assert _avrofast.encode(c.plan, _good()) == data
    assert _avrofast.decode(c.plan, b"\x07" + data, 1) == (c.decode(data), len(data) + 1)
    assert c.plan.decode_all(memoryview(b"\x07" + data), 1) == c.decode(data)
    with pytest.raises(ValueError, match=r"^1 trailing bytes after the Avro datum$"):
        c.plan.decode_all(data + b"\x00")
    with pytest.raises(TypeError, match="Plan"):
        _avrofast.encode(object(), {})  # type: ignore[arg-type]
    for tree in [(), (99,), (0, 1), (11, "x"), (11, (("a", (0,), True),)), (9, (0,), -1), (13, (), len)]:
        with pytest.raises(ValueError, match="malformed Avro plan"):
            _avrofast.Plan(tree, _HELPERS)
    with pytest.raises(ValueError, match="helpers"):
        _avrofast.Plan((0,), ())
    with pytest.raises(EOFError):
        _avrofast.decode(c.plan, data, len(data) + 1)


@needs_c
def test_schemas_nested_past_the_executor_limit_use_the_python_codec() -> None:
    schema: dict[str, Any] = {"type": "record", "name": "R0", "fields": [{"name": "v", "type": "long"}]}
    value: dict[str, Any] = {"v": 1}
    for i in range(1, 80):
        schema = {"type": "record", "name": f"R{i}", "fields": [{"name": "n", "type": schema}]}
        value = {"n": value}
    codec = compile_schema(schema, accelerate=True)
    assert codec.implementation == "python"
    assert codec.decode(codec.encode(value)) == value


# ---------------------------------------------------------------- differential decoding


@needs_c
def test_corrupted_bytes_decode_the_same_or_fail_in_both() -> None:
    py, c = _codecs()
    rng = random.Random(12)
    good = py.encode(_good())
    checked = 0
    for _ in range(4000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        blob = bytes(data)
        ours, theirs = outcome(lambda b=blob: c.decode(b)), outcome(lambda b=blob: py.decode(b))
        if theirs[0] == "ok":
            checked += 1
            assert ours[0] == "ok" and same(ours[1], theirs[1]), blob
        else:
            assert ours[0] == "error", (blob, theirs)
            assert ours[1] in {e.__name__ for e in DECODE_ERRORS} | {"UnicodeDecodeError"}, ours
    assert checked > 100


@needs_c
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x04", "union index 2 at offset 1 is not in 0..1"),
        (b"\x03", "union index -2 at offset 1 is not in 0..1"),
        (b"\x02" + b"\xff" * 11, "varint longer than 10 bytes at offset 11"),
        (b"\x02" + b"\xff" * 9 + b"\x7f", "varint out of 64-bit range at offset 11"),
        (b"\x02\x03", "negative length -2 at offset 2"),
        (b"\x02\x80\x01ab", r"length 64 at offset 3 runs past the end \(5 bytes\)"),
    ],
)
def test_decode_error_messages_match_the_python_codec(data: bytes, message: str) -> None:
    schema = {"type": "record", "name": "S", "fields": [{"name": "s", "type": ["null", "string"]}]}
    for accelerate in (False, True):
        with pytest.raises((ValueError, EOFError), match=message):
            compile_schema(schema, accelerate=accelerate).decode(data)


# ---------------------------------------------------------------- canonical copy (Plan.copy)
# copy(record, limit) must return exactly what decoding the record's encoding returns (same types, same
# order, same float bits), or None where it does not show that; the generated Python codec's encode and
# decode are the oracle. EnvelopeSerde.roundtrip relies on it at every step boundary.

UNLIMITED = 1 << 40


def identical(a: Any, b: Any) -> bool:
    """Equal values of the same types, dicts in the same key order, floats to the bit (NaN included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def containers(value: Any) -> set[int]:
    """The ids of every dict and list inside value (value included)."""
    if isinstance(value, dict):
        return {id(value)}.union(*(containers(v) for v in value.values()))
    if isinstance(value, list):
        return {id(value)}.union(*(containers(v) for v in value))
    return set()


def _check_copy(py: AvroCodec, c: AvroCodec, rec: Any, limit: int = UNLIMITED) -> Any:
    """c's copy of rec, checked against py's decode(encode(rec)); None when the copy did not show it."""
    copy = c.copier
    assert copy is not None
    got = copy(rec, limit)
    if got is None:
        return None
    expected = outcome(lambda: py.decode(py.encode(rec)))
    assert expected[0] == "ok", (rec, expected)  # a record encode refuses is never copied
    assert identical(got, expected[1]), (got, expected[1])
    assert not containers(got) & containers(rec)  # new dicts and lists: the next step may change them
    return got


@needs_c
@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(x for x in p if x))
def test_copy_is_the_decoded_encoding_or_none_for_odd_values(path: tuple[str | None, str]) -> None:
    py, c = _codecs()
    parent, key = path
    for value in [*POOL, "missing"]:
        rec = _good_with(parent, key, value)
        _check_copy(py, c, rec)


# the fields the copy takes on: a float field (rounded to 32 bits) and a general union are never copied
COPY_FIELDS = [f for f in FIELDS if f.type != "float"]


def _copy_codecs() -> tuple[AvroCodec, AvroCodec]:
    base = envelope_schema("w", "b", COPY_FIELDS)
    schema = {**base, "fields": [*base["fields"], *(f for f in EXTRA if f["name"] != "u")]}
    return compile_schema(schema, accelerate=False), compile_schema(schema, accelerate=True)


def _with(path: tuple[str | None, str], value: Any) -> dict[str, Any]:
    rec = _good()
    del rec["payload"]["f"], rec["u"]
    parent, key = path
    target = rec if parent is None else rec[parent]
    if value == "missing":
        del target[key]
    else:
        target[key] = value
    return rec


# Which values the copy takes as they are, from the Avro spec and the encoder's contract (codec.py's
# module doc): exact types in range are what decoding gives back; anything the encoder converts
# (an int for a double, a subclass), refuses, or writes a default for is encoded and decoded instead.
COPIED = [
    (("payload", "i"), 2**31 - 1), (("payload", "i"), -(2**31)), (("payload", "l"), 2**63 - 1),
    (("payload", "l"), -(2**63)), (("payload", "d"), -0.0), (("payload", "d"), math.inf),
    (("payload", "s"), "é🎉ሴ"), (("payload", "o"), None), (("payload", "o"), "missing"),
    (("payload", "b"), False), ((None, "raw"), b""), ((None, "m"), {"k": None, "é": 2**40}),
    ((None, "xs"), [0.5] * 70), (("provenance", "knowledge_versions"), {"k" * 70: "v"}),
    ((None, "ts"), None), ((None, "recs"), "missing"),
]  # fmt: skip
NOT_COPIED = [
    (("payload", "i"), 2**31), (("payload", "i"), -(2**31) - 1), (("payload", "l"), 2**63),
    (("payload", "l"), -(2**63) - 1), (("payload", "i"), True), (("payload", "d"), 2),
    (("payload", "d"), Real(1.5)), (("payload", "b"), 1), (("payload", "o"), 3),
    (("payload", "s"), "bad \ud800"), (("payload", "s"), Text("sub")), (("payload", "s"), "missing"),
    ((None, "raw"), bytearray(b"x")), ((None, "xs"), (1.0,)), ((None, "xs"), [1.0, 2]),
    ((None, "m"), OrderedDict(a=1)), ((None, "m"), {1: 2}), ((None, "m"), {"a": 1.5}),
    ((None, "recs"), [Weird({"k": "v"})]), ((None, "recs"), [{}]), ((None, "tail"), "missing"),
    ((None, "produced_at"), datetime(2024, 6, 1, tzinfo=UTC)), ((None, "payload"), Weird({})),
]  # fmt: skip


@needs_c
@pytest.mark.parametrize(("path", "value"), COPIED, ids=repr)
def test_values_decoding_gives_back_as_they_are_are_copied(path: tuple[str | None, str], value: Any) -> None:
    py, c = _copy_codecs()
    assert _check_copy(py, c, _with(("payload", "s"), "x")) is not None  # the record without the change
    assert _check_copy(py, c, _with(path, value)) is not None


@needs_c
@pytest.mark.parametrize(("path", "value"), NOT_COPIED, ids=repr)
def test_values_the_encoder_converts_or_refuses_are_not_copied(
    path: tuple[str | None, str], value: Any
) -> None:
    _, c = _copy_codecs()
    assert c.copier is not None
    assert c.copier(_with(("payload", "s"), "x"), UNLIMITED) is not None
    assert c.copier(_with(path, value), UNLIMITED) is None


@needs_c
@pytest.mark.parametrize(
    ("kind", "value"), [("float", 0.25), (["null", "string", "long"], "y"), (["string", "null"], "y")]
)
def test_floats_and_unions_are_encoded_and_decoded(kind: Any, value: Any) -> None:
    """A float is rounded to 32 bits and a union's branch is picked in Python: never copied. ["string",
    "null"] is a nullable union with null second: its null is copied, a string too."""
    schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": kind}]}
    py, c = compile_schema(schema, accelerate=False), compile_schema(schema, accelerate=True)
    copied = _check_copy(py, c, {"x": value})
    assert (copied is not None) == (kind == ["string", "null"])
    if kind == ["string", "null"]:
        assert _check_copy(py, c, {"x": None}) == {"x": None}


def test_copy_is_only_offered_for_records() -> None:
    if not ACCELERATOR_BUILT:
        pytest.skip(f"C accelerator not built: {ACCELERATOR_ERROR}")
    copier = compile_schema({"type": "array", "items": "long"}, accelerate=True).copier
    assert copier is not None and copier([1], UNLIMITED) is None  # None would be ambiguous at the top


@needs_c
def test_copy_counts_the_encoded_size_to_the_byte() -> None:
    """limit is the largest body the caller takes: a record of exactly that many bytes is copied, one
    byte more is not (the caller encodes it and the size check refuses it). Strings of 1-4 UTF-8 bytes a
    character, lengths and counts past one varint byte, ints of 1-10 varint bytes, every kind of field."""
    py, c = _copy_codecs()
    rng = random.Random(5)
    records = []
    for i in range(40):
        rec = random_envelope(rng, COPY_FIELDS)
        rec.update(
            raw=b"\x00" * rng.randrange(200),
            m={"a": 2**62, "b": -64, "é" * i: 63},
            md={f"k{j}": 0.5 for j in range(rng.choice([0, 1, 70]))},
            recs=[{"k": "aé€🎉" * i}],
            tail=-(2**31),
            ts=rng.choice([None, 0, -(2**63)]),
        )
        records.append(rec)
    for rec in records:
        size = len(py.encode(rec))
        assert _check_copy(py, c, rec, size) is not None, rec
        assert c.copier is not None and c.copier(rec, size - 1) is None, rec


@needs_c
def test_copy_of_random_envelopes_over_random_schemas() -> None:
    from .test_codec import random_fields

    rng = random.Random(20261207)
    shown = 0
    for i in range(60):
        fields = random_fields(rng)
        schema = envelope_schema("claims-triage", f"step{i}", fields)
        py, c = compile_schema(schema, accelerate=False), compile_schema(schema, accelerate=True)
        for _ in range(8):
            shown += _check_copy(py, c, random_envelope(rng, fields)) is not None
    assert shown > 100  # most random envelopes are copied (those with a float field or a union are not)


def test_the_python_codec_has_no_copier() -> None:
    assert compile_schema(_schema(), accelerate=False).copier is None


@needs_c
def test_a_missing_field_without_a_default_is_not_copied() -> None:
    """Even where None would fit it (a "null" field): the encoder refuses the record, so must the copy."""
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "n", "type": "null"}, {"name": "s", "type": "string"}],
    }
    py, c = compile_schema(schema, accelerate=False), compile_schema(schema, accelerate=True)
    assert _check_copy(py, c, {"n": None, "s": "x"}) == {"n": None, "s": "x"}
    assert c.copier is not None and c.copier({"s": "x"}, UNLIMITED) is None
    with pytest.raises(ValueError, match="no value and no default for n"):
        c.encode({"s": "x"})


@needs_c
def test_copy_into_sets_the_copied_fields_as_attributes_or_leaves_the_target_alone() -> None:
    py, c = _copy_codecs()
    copy_into = c.attribute_copier
    assert copy_into is not None
    rec = {**_with(("payload", "s"), "é"), "md": {"x": 0.5}}  # every field given: attributes have no defaults
    size = len(py.encode(rec))
    source, target = SimpleNamespace(**rec), SimpleNamespace()
    assert copy_into(source, target, size) is True
    assert identical(vars(target), py.decode(py.encode(rec)))  # the fields in schema order, as decoded
    assert not containers(vars(target)) & containers(rec)
    for bad, limit in [(SimpleNamespace(**rec), size - 1), (SimpleNamespace(**{**rec, "tail": 2**31}), size)]:
        untouched = SimpleNamespace()
        assert copy_into(bad, untouched, limit) is None and vars(untouched) == {}
    del source.tail  # an attribute the source lacks: not shown (the record's encoder would refuse it)
    assert copy_into(source, SimpleNamespace(), UNLIMITED) is None
    array_root = compile_schema({"type": "array", "items": "long"}, accelerate=True).attribute_copier
    assert array_root is not None and array_root([1], SimpleNamespace(), UNLIMITED) is None


@needs_c
def test_a_record_of_scalars_is_copied_in_the_schemas_order_whatever_its_dicts_shape() -> None:
    """A payload dict holding exactly its fields in the schema's order is copied whole (PyDict_Copy); any
    other shape is rebuilt field by field. Both give what decoding gives: the schema's order, no extras."""
    py, c = _copy_codecs()
    in_order = _with(("payload", "s"), "x")["payload"]
    assert list(in_order) == [f.name for f in COPY_FIELDS]
    shapes = [
        in_order,
        dict(reversed(in_order.items())),  # same fields, another order
        {**in_order, "extra": 1},  # one more key than fields
        {k: v for k, v in in_order.items() if k != "o"},  # one fewer: "o" takes its default
        {"".join(k): v for k, v in in_order.items()},  # equal keys that are other str objects
        {**{k: v for k, v in in_order.items() if k != "o"}, "x": 1.0},  # right size, "o" not there
    ]
    for payload in shapes:
        rec = _with(("payload", "s"), "x")
        rec["payload"] = payload
        copied = _check_copy(py, c, rec, len(py.encode(rec)))
        assert copied is not None and list(copied["payload"]) == [f.name for f in COPY_FIELDS], payload
        assert c.copier is not None and c.copier(rec, len(py.encode(rec)) - 1) is None
    bad = {**in_order, "i": 2**31}  # in shape, but a value out of range: not shown
    assert (
        c.copier is not None and c.copier({**_with(("payload", "s"), "x"), "payload": bad}, UNLIMITED) is None
    )


def _slotted(names: list[str], extra: dict[str, Any] | None = None) -> type:
    """A class with one __slots__ entry per name (Envelope's shape), plus class attributes."""
    return type("Slotted", (), {"__slots__": tuple(names), **(extra or {})})


@needs_c
def test_copy_into_a_slotted_class_reads_and_sets_its_slots_as_getattr_and_setattr_would() -> None:
    py, c = _copy_codecs()
    copy_into = c.attribute_copier
    assert copy_into is not None
    rec = {**_with(("payload", "s"), "é"), "md": {"x": 0.5}}
    expected = py.decode(py.encode(rec))
    names = list(expected)
    cls = _slotted(names[::-1])  # slots in another order than the fields

    def source(of: type = cls, **changes: Any) -> Any:
        obj = object.__new__(of)
        for k, v in {**rec, **changes}.items():
            setattr(obj, k, v)
        return obj

    for attempt in range(2):  # the second call uses the cached slot offsets
        target = object.__new__(cls)
        assert copy_into(source(), target, UNLIMITED) is True, attempt
        got = {n: getattr(target, n) for n in names}
        assert identical(got, expected) and not containers(got) & containers(rec)
    cls.marker = 1  # the class changed (its version tag too): looked up again, same result
    target = object.__new__(cls)
    assert copy_into(source(), target, UNLIMITED) is True
    assert identical({n: getattr(target, n) for n in names}, expected)
    unset, untouched = source(), object.__new__(cls)
    delattr(unset, "tail")  # an unset slot is "not shown", as getattr's AttributeError is
    assert copy_into(unset, untouched, UNLIMITED) is None
    delattr(unset, "ts")  # ... a nullable one too (not taken for null)
    unset.tail = 9
    assert copy_into(unset, untouched, UNLIMITED) is None
    assert not any(hasattr(untouched, n) for n in names)
    # a field that is a property, a class that reads its attributes its own way, two different classes:
    # the attributes are read and set by name, with what getattr gives
    with_property = _slotted(
        [n for n in names if n != "tail"], {"tail": property(lambda self: 5, lambda self, v: None)}
    )
    target = object.__new__(with_property)
    assert copy_into(source(with_property, tail=None), target, UNLIMITED) is True
    assert target.attempt == expected["attempt"] and target.tail == 5

    def shouting(self: Any, name: str) -> Any:
        value = object.__getattribute__(self, name)
        return value.upper() if name == "event_id" else value

    loud = _slotted(names, {"__getattribute__": shouting})
    target = object.__new__(loud)
    assert copy_into(source(loud), target, UNLIMITED) is True
    assert object.__getattribute__(target, "event_id") == rec["event_id"].upper()
    other = object.__new__(_slotted(["aaa", *names]))  # slots are laid out sorted: every offset moves
    assert copy_into(source(), other, UNLIMITED) is True
    assert identical({n: getattr(other, n) for n in names}, expected)
    made, seen = source(), []
    assert copy_into(made, object.__new__(cls), UNLIMITED) is True  # cls's slots cached again
    cls.tail = property(lambda self: 5, lambda self, v: seen.append(v))  # replaces the slot's descriptor
    assert made.tail == 5  # a lookup on the changed class, which gives it a new version tag
    assert copy_into(made, object.__new__(cls), UNLIMITED) is True
    assert seen == [5]  # read and set by name now: not the slot's 9 through the cached offset
