"""The compiled Avro codec against fastavro: same bytes, same decoded values, stricter on bad input.

Every test runs twice: against the generated Python code and against the C executor
(schemas/_avrofast.c), which is skipped only when it is not built;
tests/unit/schemas/test_codec_accelerator.py
fails when a compiler exists and it was not built.
"""

from __future__ import annotations

import io
import math
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from fastavro.validation import validate

from dana_workflows.schemas.avro import envelope_schema, payload_schema, provenance_schema
from dana_workflows.schemas.codec import (
    ACCELERATOR_BUILT,
    ACCELERATOR_ERROR,
    PURE_ENV,
    AvroCodec,
    UnsupportedSchemaError,
    compile_schema,
)
from dana_workflows.schemas.envelope import Envelope, _micros
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module", autouse=True, params=["python", "c"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which implementation compile_schema (and so EnvelopeSerde) uses for this module's tests."""
    if request.param == "c" and not ACCELERATOR_BUILT:
        pytest.skip(f"the Avro C accelerator is not built: {ACCELERATOR_ERROR}")
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "python":
            mp.setenv(PURE_ENV, "1")
        else:
            mp.delenv(PURE_ENV, raising=False)
        yield request.param


def test_the_implementation_under_test_is_used(impl: str) -> None:
    assert compile_schema(provenance_schema()).implementation == impl


# ---------------------------------------------------------------- random envelopes

_STRINGS = ["", "a", "héllo wörld", "日本語テキスト", "emoji 🎉🚀", "tab\tnew\nline", "\x00nul", "x" * 63]
_LONGS = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2**31, -(2**31) - 1, 2**62, -(2**63), 2**63 - 1]
_INTS = [0, 1, -1, 63, 64, -65, 2**31 - 1, -(2**31), 300, -300]
_DOUBLES = [0.0, -0.0, 1.5, -2.25, math.nan, math.inf, -math.inf, 1e308, 5e-324, 0.1, -1e-300]
_FLOATS = [0.0, -0.0, 1.5, math.nan, math.inf, -math.inf, 3.4028235e38, 1e300, -1e300, 1e-46, 0.1]


def _string(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(_STRINGS)
    if roll < 0.9:
        return "".join(rng.choice("abcdefghij κλμ€𝄞") for _ in range(rng.randint(0, 90)))
    return "z" * rng.choice([200, 4095, 4096, 9000])  # 2- and 3-byte lengths, the _LP table's end


def _value(rng: random.Random, avro_type: str) -> Any:
    if avro_type == "string":
        return _string(rng)
    if avro_type == "long":
        return rng.choice(_LONGS) if rng.random() < 0.6 else rng.randint(-(2**63), 2**63 - 1)
    if avro_type == "int":
        return rng.choice(_INTS) if rng.random() < 0.6 else rng.randint(-(2**31), 2**31 - 1)
    if avro_type == "double":
        return rng.choice(_DOUBLES) if rng.random() < 0.6 else rng.uniform(-1e9, 1e9)
    if avro_type == "float":
        return rng.choice(_FLOATS) if rng.random() < 0.6 else rng.uniform(-1e6, 1e6)
    if avro_type == "boolean":
        return rng.random() < 0.5
    raise AssertionError(avro_type)


def random_fields(rng: random.Random) -> list[FieldIR]:
    types = list(AVRO_PRIMITIVES)
    return [
        FieldIR.model_validate({"name": f"f{i}_{t}", "type": t, "optional": rng.random() < 0.3})
        for i, t in enumerate(rng.choice(types) for _ in range(rng.randint(0, 12)))
    ]


def random_envelope(rng: random.Random, fields: list[FieldIR]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for f in fields:
        if f.optional and rng.random() < 0.3:
            if rng.random() < 0.5:
                payload[f.name] = None  # else left out: the default (null) applies
            continue
        payload[f.name] = _value(rng, f.type)
    rules = [
        {
            "rule_id": f"r{j}",
            "step": _string(rng),
            "passed": rng.random() < 0.5,
            "severity": rng.choice(["info", "warn", "error"]),
            "message": _string(rng),
            "values": '{"amount": 12.5}',
        }
        for j in range(rng.choice([0, 1, 4, 70]))  # 70: a block count past one varint byte
    ]
    provenance: dict[str, Any] = {
        "rule_results": rules,
        "reasons": [_string(rng) for _ in range(rng.randint(0, 3))],
        "route": rng.choice([None, "auto", "review"]),
        "error": rng.choice([None, "boom: 💥"]),
        "model": rng.choice([None, "gpt-x"]),
        "prompt_hash": rng.choice([None, "ab" * 32]),
        "knowledge_versions": {_string(rng): _string(rng) for _ in range(rng.randint(0, 3))},
    }
    for key in list(provenance):
        if rng.random() < 0.15:
            del provenance[key]  # every provenance field has a default
    env = Envelope(
        event_id=_string(rng),
        run_id=_string(rng),
        workflow="claims-triage",
        workflow_version=rng.choice(_INTS),
        step=_string(rng),
        payload=payload,
        produced_at=rng.choice([0, -1, 1_717_243_200_123_456, 2**62, -(2**63)]),
        attempt=rng.randint(0, 5),
        provenance=provenance,
        chain_seq=rng.choice(_INTS),
        chain_hash=rng.choice(["", "0" * 64]),
    )
    rec = env.to_record()
    if rng.random() < 0.1:
        rec["unknown_extra"] = object()  # extra keys are ignored, whatever they hold
    if rng.random() < 0.1:
        del rec["chain_seq"], rec["chain_hash"]  # defaults
    return rec


def fa_encode(schema: Any, record: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def _plain_timestamps(schema: Any) -> Any:
    """The schema with timestamp-micros as plain long: fastavro's datetime cannot hold every long."""
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-micros":
            return "long"
        return {k: _plain_timestamps(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_plain_timestamps(s) for s in schema]
    return schema


def fa_decode(schema: Any, data: bytes) -> Any:
    parsed = fastavro.parse_schema(_plain_timestamps(schema))
    return fastavro.schemaless_reader(io.BytesIO(data), parsed, None)


def same(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN and datetimes (fastavro's timestamps) equal their micros."""
    if isinstance(a, datetime) or isinstance(b, datetime):
        return _micros(a) == _micros(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def cases(impl: str) -> list[tuple[dict[str, Any], AvroCodec, dict[str, Any]]]:
    """480 random envelopes over 60 random payload schemas (seeded: failures reproduce)."""
    rng = random.Random(20240601)
    out: list[tuple[dict[str, Any], AvroCodec, dict[str, Any]]] = []
    for i in range(60):
        fields = random_fields(rng)
        schema = envelope_schema("claims-triage", f"step{i}", fields)
        codec = compile_schema(schema)
        out.extend((schema, codec, random_envelope(rng, fields)) for _ in range(8))
    return out


def test_encode_matches_fastavro_byte_for_byte(cases: list[Any]) -> None:
    for schema, codec, rec in cases:
        assert codec.encode(rec) == fa_encode(schema, rec), rec


def test_decode_matches_fastavro(cases: list[Any]) -> None:
    for schema, codec, rec in cases:
        data = fa_encode(schema, rec)
        ours = codec.decode(data)
        assert same(ours, fa_decode(schema, data)), rec
        assert type(ours["produced_at"]) is int  # timestamp-micros stays micros


def test_round_trip_through_envelope(cases: list[Any]) -> None:
    for _schema, codec, rec in cases[:80]:
        decoded = codec.decode(codec.encode(rec))
        assert same(codec.decode(codec.encode(decoded)), decoded)
        env = Envelope.from_record(decoded)
        assert env.produced_at == rec["produced_at"]
        assert same(env.provenance["rule_results"], rec["provenance"].get("rule_results", []))


def test_decode_at_offset_and_from_memoryview() -> None:
    schema = provenance_schema()
    codec = compile_schema(schema)
    rec = {"reasons": ["a", "b"], "route": "x", "knowledge_versions": {"k": "v"}}
    data = codec.encode(rec)
    expected = fa_decode(schema, data)
    assert codec.decode(b"\x00\x01\x02" + data, 3) == expected
    assert codec.decode(memoryview(data)) == expected
    assert codec.decode(bytearray(data)) == expected


def test_fastavro_parsed_schema_compiles_the_same() -> None:
    schema = envelope_schema("w", "b", [FieldIR(name="a", type="double")])
    rec = random_envelope(random.Random(1), [FieldIR(name="a", type="double")])
    assert compile_schema(fastavro.parse_schema(schema)).encode(rec) == compile_schema(schema).encode(rec)


def test_timestamp_accepts_datetime_like_fastavro() -> None:
    schema = envelope_schema("w", "b", [])
    rec = random_envelope(random.Random(2), [])
    rec["produced_at"] = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    codec = compile_schema(schema)
    assert codec.encode(rec) == fa_encode(schema, rec)
    assert codec.decode(codec.encode(rec))["produced_at"] == 1_717_243_200_123_456


# ---------------------------------------------------------------- unions of primitives


@pytest.mark.parametrize(
    "union",
    [
        ["null", "string", "long", "double", "boolean"],
        ["null", "int", "long"],
        ["float", "double", "null"],
        ["null", "float", "string"],
        ["long", "int"],
        ["string", "bytes", "null"],
        ["boolean", "long", "float"],
        ["string", "null"],
    ],
)
def test_primitive_unions_pick_the_branch_fastavro_picks(union: list[str]) -> None:
    schema = {"type": "record", "name": "U", "fields": [{"name": "v", "type": union}]}
    codec = compile_schema(schema)
    values: list[Any] = [None, True, False, 0, -5, 2**31, 2**40, -(2**63), 2**63, 1.5, math.nan, "s", b"b"]
    for v in values:
        ok = validate({"v": v}, fastavro.parse_schema(schema), raise_errors=False)
        if ok:
            assert codec.encode({"v": v}) == fa_encode(schema, {"v": v}), v
            assert same(codec.decode(codec.encode({"v": v})), fa_decode(schema, codec.encode({"v": v})))
        else:
            with pytest.raises((TypeError, ValueError), match="on field v"):
                codec.encode({"v": v})


# ---------------------------------------------------------------- write errors


def _claims_payload_codec() -> tuple[dict[str, Any], AvroCodec]:
    fields = [
        FieldIR(name="claim_id", type="string"),
        FieldIR(name="amount", type="double"),
        FieldIR(name="ratio", type="float"),
        FieldIR(name="count", type="int"),
        FieldIR(name="submitted_at", type="long"),
        FieldIR(name="urgent", type="boolean"),
        FieldIR(name="channel", type="string", optional=True),
    ]
    schema = payload_schema("claims", "intake", fields)
    return schema, compile_schema(schema)


GOOD = {"claim_id": "C1", "amount": 10.0, "ratio": 0.5, "count": 3, "submitted_at": 5, "urgent": False}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "12.5", "must be double.* on field amount"),
        ("amount", None, "must be double.* on field amount"),
        ("amount", True, "must be double.* on field amount"),
        ("amount", 10**400, "out of range for double on field amount"),
        ("ratio", "x", "must be double.* on field ratio"),
        ("claim_id", None, "must be string.* on field claim_id"),
        ("claim_id", 12, "must be string.* on field claim_id"),
        ("claim_id", b"C1", "must be string.* on field claim_id"),
        ("claim_id", "bad \ud800 surrogate", "not valid UTF-8.* on field claim_id"),
        ("count", 1.5, "must be int.* on field count"),
        ("count", "3", "must be int.* on field count"),
        ("count", 2**31, "out of range for int on field count"),
        ("count", -(2**31) - 1, "out of range for int on field count"),
        ("submitted_at", 2**63, "out of range for long on field submitted_at"),
        ("submitted_at", -(2**63) - 1, "out of range for long on field submitted_at"),
        ("submitted_at", False, "must be long.* on field submitted_at"),
        ("urgent", None, "must be boolean.* on field urgent"),
        ("urgent", 1, "must be boolean.* on field urgent"),
        ("channel", 5, "must be string.* on field channel"),
    ],
)
def test_type_errors_name_the_field(field: str, value: Any, message: str) -> None:
    schema, codec = _claims_payload_codec()
    rec = {**GOOD, field: value}
    with pytest.raises((TypeError, ValueError), match=message):
        codec.encode(rec)
    if "out of range for double" not in message and "UTF-8" not in message:
        # (fastavro's validator takes 10**400 as a double and lone surrogates as strings; its writer fails)
        assert not validate(rec, fastavro.parse_schema(schema), raise_errors=False)


def test_missing_field_without_default_is_an_error_and_defaults_apply() -> None:
    _schema, codec = _claims_payload_codec()
    rec = dict(GOOD)
    del rec["amount"]
    with pytest.raises(ValueError, match="no value and no default for amount"):
        codec.encode(rec)
    assert codec.decode(codec.encode({**GOOD, "extra": [1, 2]}))["channel"] is None


def test_wrong_container_types_name_the_field() -> None:
    codec = compile_schema(envelope_schema("w", "b", []))
    rec = random_envelope(random.Random(3), [])
    with pytest.raises(TypeError, match=r"must be record.* on field payload"):
        codec.encode({**rec, "payload": None})
    with pytest.raises(TypeError, match=r"must be array.* on field reasons"):
        codec.encode({**rec, "provenance": {"reasons": "abc"}})
    with pytest.raises(TypeError, match=r"must be map.* on field knowledge_versions"):
        codec.encode({**rec, "provenance": {"knowledge_versions": []}})
    with pytest.raises(TypeError, match=r"must be string.* on field knowledge_versions"):
        codec.encode({**rec, "provenance": {"knowledge_versions": {1: "a"}}})
    with pytest.raises(TypeError, match="must be record"):
        codec.encode(None)  # type: ignore[arg-type]


def test_validator_agreement_on_random_values() -> None:
    """The codec rejects exactly what fastavro.validation rejects (and writes fastavro's bytes otherwise)."""
    schema, codec = _claims_payload_codec()
    parsed = fastavro.parse_schema(schema)
    rng = random.Random(7)
    pool: list[Any] = [None, True, 0, -1, 2**31, 2**63, 1.5, math.inf, "s", "", b"b", [], {}, 10**30]
    for _ in range(400):
        rec = dict(GOOD)
        for key in rng.sample(sorted(rec), rng.randint(1, 2)):
            rec[key] = rng.choice(pool)
        if validate(rec, parsed, raise_errors=False):
            assert codec.encode(rec) == fa_encode(schema, rec), rec
        else:
            with pytest.raises((TypeError, ValueError)):
                codec.encode(rec)


# ---------------------------------------------------------------- read errors

DECODE_ERRORS = (EOFError, ValueError, IndexError)


def test_every_truncation_raises(cases: list[Any]) -> None:
    small = [(codec, codec.encode(rec)) for _schema, codec, rec in cases]
    for codec, data in [c for c in small if len(c[1]) < 1500][:30]:
        for cut in range(len(data)):
            with pytest.raises(DECODE_ERRORS):
                codec.decode(data[:cut])


def test_trailing_bytes_raise() -> None:
    codec = compile_schema(provenance_schema())
    with pytest.raises(ValueError, match="trailing"):
        codec.decode(codec.encode({}) + b"\x00")


def _str_schema(t: Any = "string") -> dict[str, Any]:
    return {"type": "record", "name": "S", "fields": [{"name": "s", "type": t}]}


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (_str_schema(), b"\xfe\xff\xff\xff\x0f" + b"abc"),  # huge length prefix
        (_str_schema(), b"\x80\x01abc"),  # 64 bytes announced, 3 there (2-byte length)
        (_str_schema(), b"\x03abc"),  # negative length
        (_str_schema(), b"\x83\x01abc"),  # negative multi-byte length
        (_str_schema(), b"\x04\xff\xfe"),  # invalid UTF-8
        (_str_schema("bytes"), b"\xfe\xff\xff\xff\x0f"),
        (_str_schema("long"), b"\xff" * 11),  # varint longer than 10 bytes
        (_str_schema("long"), b"\xff" * 9 + b"\x7f"),  # past 64 bits
        (_str_schema("int"), b"\x80\x80\x80\x80\x10"),  # past 32 bits
        (_str_schema("boolean"), b"\x02"),
        (_str_schema(["null", "string"]), b"\x04"),  # union index 2 of 2 branches
        (_str_schema(["null", "string"]), b"\x03"),  # union index -2 (fastavro returns None here)
        (_str_schema({"type": "array", "items": "string"}), b"\xfe\xff\xff\xff\x0f\x00"),  # absurd count
        (_str_schema({"type": "array", "items": "null"}), b"\xfe\xff\xff\xff\x0f\x00"),  # zero-size items
        (_str_schema({"type": "map", "values": "long"}), b"\x02\x02k"),  # truncated map entry
        (_str_schema("double"), b"\x00\x00\x00"),
        (_str_schema("float"), b""),
    ],
)
def test_garbage_raises(schema: dict[str, Any], data: bytes) -> None:
    with pytest.raises(DECODE_ERRORS):
        compile_schema(schema).decode(data)


def test_negative_block_counts_are_read() -> None:
    """Java writers may write -count then the block's byte size; fastavro reads those too."""
    schema = _str_schema({"type": "array", "items": "long"})
    data = b"\x03\x04\x02\x04" + b"\x02\x06" + b"\x00"  # block of 2 (2 bytes), block of 1, end
    assert compile_schema(schema).decode(data) == fa_decode(schema, data) == {"s": [1, 2, 3]}


def test_random_garbage_never_decodes_inconsistently() -> None:
    codec = compile_schema(envelope_schema("w", "b", [FieldIR(name="a", type="string")]))
    good = codec.encode(random_envelope(random.Random(4), [FieldIR(name="a", type="string")]))
    rng = random.Random(5)
    for _ in range(1500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            value = codec.decode(bytes(data))
        except DECODE_ERRORS:
            continue
        assert same(codec.decode(codec.encode(value)), value)  # whatever decodes is a real datum


# ---------------------------------------------------------------- unsupported schemas and the serde


@pytest.mark.parametrize(
    "schema",
    [
        _str_schema({"type": "enum", "name": "E", "symbols": ["A"]}),
        _str_schema({"type": "fixed", "name": "F", "size": 2}),
        _str_schema({"type": "int", "logicalType": "date"}),
        _str_schema(["null", "string", {"type": "array", "items": "string"}]),
        {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]},
    ],
)
def test_unsupported_schemas_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchemaError):
        compile_schema(schema)


def _serde() -> tuple[EnvelopeSerde, int, Envelope]:
    registry = FileRegistry()
    sid = registry.register(envelope_schema("w", "b", [FieldIR(name="amount", type="double")]))
    env = Envelope(
        event_id="e1",
        run_id="r1",
        workflow="w",
        workflow_version=2,
        step="b",
        payload={"amount": 12.5},
        produced_at=1_717_243_200_123_456,
        provenance={
            "rule_results": [
                {
                    "rule_id": "r",
                    "step": "b",
                    "passed": True,
                    "severity": "info",
                    "message": "",
                    "values": "{}",
                }
            ],
            "reasons": ["ok"],
            "route": "auto",
            "error": None,
            "model": None,
            "prompt_hash": None,
            "knowledge_versions": {"fx": "2024-06-01"},
        },
        chain_seq=3,
        chain_hash="c" * 64,
    )
    return EnvelopeSerde(registry), sid, env


def test_serde_round_trip_matches_fastavro_wire_bytes() -> None:
    serde, sid, env = _serde()
    data = serde.encode(env, sid)
    assert data[5:] == fa_encode(serde.registry.lookup(sid), env.to_record())
    assert data[:5] == struct.pack(">bI", 0, sid)
    assert serde.decode(data) == (sid, env)
    with pytest.raises(TypeError, match="on field amount"):
        serde.encode(env.evolve(payload={"amount": "12"}), sid)


def test_serde_decode_as_its_own_schema_takes_the_compiled_path() -> None:
    serde, sid, env = _serde()
    data = serde.encode(env, sid)
    assert serde.decode_as(data, sid) == (sid, env)
    assert serde.decode(bytearray(data)) == (sid, env)  # type: ignore[arg-type]  # not bytes: general path
    with pytest.raises(PoisonMessageError, match="not valid Avro for schema") as info:
        serde.decode_as(data[:-2], sid)
    assert info.value.schema_id == sid and info.value.raw == data[:-2]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d, sid: d[:4], "too short"),
        (lambda d, sid: b"\x01" + d[1:], "magic byte is 1"),
        (lambda d, sid: struct.pack(">bI", 0, 12345) + d[5:], "not in the registry"),
        (lambda d, sid: d[:-3], "not valid Avro"),
        (lambda d, sid: d + b"\x00", "not valid Avro"),
    ],
)
def test_serde_poison_messages(mutate: Any, reason: str) -> None:
    serde, sid, env = _serde()
    bad = mutate(serde.encode(env, sid), sid)
    with pytest.raises(PoisonMessageError, match=reason) as info:
        serde.decode(bad)
    assert info.value.raw == bad
    assert info.value.schema_id == (
        None if reason in ("too short", "magic byte is 1") else struct.unpack(">I", bad[1:5])[0]
    )


def test_serde_falls_back_to_fastavro_for_unsupported_schemas_and_resolution() -> None:
    registry = FileRegistry()
    base = envelope_schema("w", "b", [FieldIR(name="amount", type="double")])
    odd = {
        **base,
        "fields": [
            *base["fields"][:-1],
            {
                "name": "chain_hash",
                "type": {"type": "enum", "name": "H", "symbols": ["A", "B"]},
                "default": "A",
            },
        ],
    }
    sid_odd = registry.register(odd)
    serde = EnvelopeSerde(registry)
    env = Envelope.from_record(random_envelope(random.Random(8), [FieldIR(name="amount", type="double")]))
    data = serde.encode(env.evolve(chain_hash="B"), sid_odd)
    assert serde.decode(data)[1].chain_hash == "B"
    # decode_as: a reader schema with one more optional payload field resolves through fastavro
    sid_w = registry.register(base)
    reader = envelope_schema(
        "w", "b", [FieldIR(name="amount", type="double"), FieldIR(name="note", type="string", optional=True)]
    )
    sid_r = registry.register(reader)
    _, decoded = serde.decode_as(serde.encode(env, sid_w), sid_r)
    assert decoded.payload == {**env.payload, "note": None}
