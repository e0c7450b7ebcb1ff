"""Avro binary in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, body.

`encode` and `roundtrip` (every step boundary, five an event on the claims example) build the size error's
message only for a record over the limit, and `roundtrip` decodes without the `_decode_compiled` call:
-18.9k of 742k instructions an event (docs/performance.md, "Session 10: shared processing"). Since session 11
`roundtrip` copies instead where the C executor shows the copy equals the decoded bytes: 676.6k -> 571.9k
instructions an event (docs/performance.md, "Session 11: shared processing").
"""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Callable, Mapping
from typing import Any

import fastavro
import orjson
from fastavro.read import SchemaResolutionError

from dana_workflows.schemas.codec import (
    AvroCodec,
    UnsupportedSchemaError,
    accelerated_by_default,
    compile_schema,
)
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.record_size import MAX_VALUE_BYTES, check_value_size
from dana_workflows.schemas.registry import SchemaRegistry, UnknownSchemaError

MAGIC = 0
_HEADER = struct.Struct(">bI")

_Write = Callable[[Mapping[str, Any], bytes], bytes]  # (record, header) -> wire bytes
_Read = Callable[[bytes, int], Any]  # (wire bytes, body offset) -> record
_Copy = Callable[[Mapping[str, Any], int], Any]  # (record, body size limit) -> decoded record or None
_CopyInto = Callable[[Envelope, Envelope, int], "bool | None"]  # (source, target, limit) -> True or None
_BODY_LIMIT = MAX_VALUE_BYTES - _HEADER.size  # the largest Avro body _sized lets through with its header
_ENVELOPE_FIELDS = frozenset(f.name for f in dataclasses.fields(Envelope))
_new_envelope = object.__new__


def _envelope_fields(schema: Any) -> bool:
    """Whether a schema's record fields are the Envelope's, one to one: then a decoded record of it sets
    every attribute of an Envelope and nothing else, and the copy can go attribute to attribute."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list):
        return False
    return sorted(str(f.get("name")) for f in fields) == sorted(_ENVELOPE_FIELDS)


class PoisonMessageError(ValueError):
    """Bytes that cannot be decoded; carries the reason and the raw bytes for the dlq."""

    def __init__(self, reason: str, raw: bytes, schema_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
        self.schema_id = schema_id


class SpecChangedError(PoisonMessageError):
    """Bytes their writer's schema reads but the reader's (the current spec's) cannot: an event written
    under an older spec. ``envelope`` is the record as written (its run, its audit chain), ``unmet`` the
    (field, why) the current spec asks that it lacks: a worker rejects it with these reasons instead of
    sending it to dlq as bytes (docs/kafka-runtime.md, "A spec changed between restarts")."""

    schema_id: int  # always known: the writer's schema read the record

    def __init__(
        self, reason: str, raw: bytes, schema_id: int, envelope: Envelope, unmet: list[tuple[str, str]]
    ) -> None:
        super().__init__(reason, raw, schema_id)
        self.envelope = envelope
        self.unmet = unmet


# Compiled codecs by schema text, shared by every serde in the process: compiling takes ~5-10 ms a
# schema, and a process may build several serdes (a worker's agents, the producer, benchmark repeats).
_COMPILED: dict[tuple[bytes, bool], AvroCodec | None] = {}


def _compiled(schema: dict[str, Any]) -> AvroCodec | None:
    """The codec for a schema, or None where fastavro must do it (compiled once per process)."""
    key = (orjson.dumps(schema, option=orjson.OPT_SORT_KEYS), accelerated_by_default())
    if key not in _COMPILED:
        try:
            _COMPILED[key] = compile_schema(schema)
        except UnsupportedSchemaError:
            _COMPILED[key] = None
    return _COMPILED[key]


class EnvelopeSerde:
    """Encode/decode Envelopes for one registry. Writers are bound to a schema id per topic."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._codecs: dict[int, AvroCodec | None] = {}  # None: schema not compiled, use fastavro
        # Hot path, per compiled schema: sid -> (encode, header) and header -> (sid, decode), so an
        # event crossing a boundary costs two dict lookups besides the codec itself.
        self._writers: dict[int, tuple[_Write, bytes]] = {}
        self._readers: dict[bytes, tuple[int, _Read]] = {}
        # sid -> the C executor's canonical copy (roundtrip), where it has one: envelope to envelope when
        # the schema's fields are the Envelope's, else record dict to record dict
        self._copiers_into: dict[int, _CopyInto] = {}
        self._copiers: dict[int, _Copy] = {}

    def _codec(self, sid: int) -> AvroCodec | None:
        """The compiled codec for a schema id (compiled once); raises UnknownSchemaError."""
        try:
            return self._codecs[sid]
        except KeyError:
            pass
        codec = _compiled(self.registry.lookup(sid))
        self._codecs[sid] = codec
        if codec is not None:
            header = _HEADER.pack(MAGIC, sid)
            self._writers[sid] = (codec.encoder, header)
            self._readers[header] = (sid, codec.decoder)
            if codec.attribute_copier is not None and _envelope_fields(codec.schema):
                self._copiers_into[sid] = codec.attribute_copier
            elif codec.copier is not None:
                self._copiers[sid] = codec.copier
        return codec

    def encode(self, env: Envelope, sid: int) -> bytes:
        try:
            write, header = self._writers[sid]
        except KeyError:
            if self._codec(sid) is None:
                buf = io.BytesIO()
                buf.write(_HEADER.pack(MAGIC, sid))
                fastavro.schemaless_writer(buf, self.registry.parsed(sid), env.to_record())
                return _sized(buf.getvalue(), sid)
            write, header = self._writers[sid]
        return _sized(write(env.to_record(), header), sid)

    def roundtrip(self, env: Envelope, sid: int) -> Envelope:
        """Encode with schema `sid` and decode those bytes again: what a consumer of the topic gets.

        The local runtime's step boundary; one call instead of encode + decode saves slicing and
        looking up the header it just wrote. Errors are encode's and decode's.

        With the C executor, the envelope is first copied as the decoder would return it, without the bytes
        (AvroCodec.attribute_copier, AvroCodec.copier): the same values at about a third of the cost. Where
        the copy cannot show that (a value the encoder would convert or refuse, a record over the size
        limit), the bytes are written and read, with their values and errors.
        """
        copy_into = self._copiers_into.get(sid)
        if copy_into is not None:
            out = _new_envelope(Envelope)
            if copy_into(env, out, _BODY_LIMIT):
                return out
        copy = self._copiers.get(sid)
        if copy is not None:
            rec = env.to_record()
            same = copy(rec, _BODY_LIMIT)
            if same is not None:
                return Envelope.from_record(same)
        try:
            write, header = self._writers[sid]
        except KeyError:
            return self.decode(self.encode(env, sid))[1]
        data = _sized(write(env.to_record(), header), sid)
        try:
            rec = self._readers[header][1](data, 5)
        except Exception as exc:
            raise _poison(data, sid, exc) from None
        return Envelope.from_record(rec)

    def decode(self, data: bytes) -> tuple[int, Envelope]:
        hit = self._readers.get(data[:5]) if type(data) is bytes else None
        if hit is None:
            return self._decode(data, None)
        return self._decode_compiled(data, *hit)

    def decode_as(self, data: bytes, reader_sid: int) -> tuple[int, Envelope]:
        """Decode with schema resolution into the reader schema a step expects."""
        hit = self._readers.get(data[:5]) if type(data) is bytes else None
        if hit is None or hit[0] != reader_sid:
            return self._decode(data, reader_sid)
        return self._decode_compiled(data, *hit)

    def _decode_compiled(self, data: bytes, sid: int, read: _Read) -> tuple[int, Envelope]:
        """The hot path: a known header, a compiled codec, no resolution; errors as _decode gives them."""
        try:
            rec = read(data, 5)
        except Exception as exc:
            raise _poison(data, sid, exc) from None
        return sid, Envelope.from_record(rec)

    def _decode(self, data: bytes, reader_sid: int | None) -> tuple[int, Envelope]:
        if len(data) < 5:
            raise PoisonMessageError(f"too short for the wire format ({len(data)} bytes)", data)
        magic, sid = _HEADER.unpack_from(data)
        if magic != MAGIC:
            # data[0], not the signed header field: the byte as any hex dump shows it (0..255)
            raise PoisonMessageError(
                f"magic byte is {data[0]} (0x{data[0]:02x}), expected 0 (not Confluent wire format)"
                + _json_hint(data),
                data,
            )
        try:
            codec = self._codec(sid)
            writer = self.registry.parsed(sid) if codec is None or reader_sid not in (None, sid) else None
        except UnknownSchemaError as exc:
            raise PoisonMessageError(str(exc), data, sid) from None
        reader = self.registry.parsed(reader_sid) if reader_sid not in (None, sid) else None
        try:
            if writer is None:
                assert codec is not None
                rec: Any = codec.decode(data, 5)
            else:
                rec = fastavro.schemaless_reader(io.BytesIO(data[5:]), writer, reader)
        except SchemaResolutionError as exc:  # not into the reader's schema; its writer's may read it
            assert reader_sid is not None  # only a reader's schema fails to resolve
            raise self._spec_changed(data, sid, reader_sid, exc) from None
        except Exception as exc:  # fastavro raises EOFError, UnicodeDecodeError...
            raise _poison(data, sid, exc) from None
        return sid, Envelope.from_record(rec)

    def _spec_changed(
        self, data: bytes, sid: int, reader_sid: int, exc: SchemaResolutionError
    ) -> PoisonMessageError:
        """Bytes schema ``reader_sid`` cannot resolve: a SpecChangedError with the record as its writer's
        schema ``sid`` reads it (the event to decide under the current spec), or poison where even that
        fails or the writer's envelope is another topic's (another workflow or boundary: not an older
        version of this topic's events, and no run of this workflow to reject)."""
        theirs, ours = self.registry.parsed(sid)["name"], self.registry.parsed(reader_sid)["name"]
        if theirs != ours:
            return PoisonMessageError(
                f"{_poison(data, sid, exc)}; written as {theirs}, not as this topic's {ours}: a producer of "
                "another topic wrote it here?",
                data,
                sid,
            )
        reason = (
            f"{_poison(data, sid, exc)}; written under schema {sid}, which this worker's schema "
            f"{reader_sid} cannot read: the spec changed while it waited? Drain a topic with workers of "
            "the spec it was written under before starting workers of the new one (docs/changes.md, "
            "Deploy)"
        )
        try:
            written = self._decode(data, None)[1]
        except PoisonMessageError:
            return PoisonMessageError(reason, data, sid)
        reader = self.registry.lookup(reader_sid)
        return SpecChangedError(reason, data, sid, written, _unmet(reader, written.payload, exc))


def _payload_fields(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The payload record's fields of an envelope schema (none where it has no record payload)."""
    for f in schema.get("fields", ()):
        if f.get("name") == "payload" and isinstance(f.get("type"), dict):
            return list(f["type"].get("fields", ()))
    return []


def _unmet(reader: Mapping[str, Any], payload: Mapping[str, Any], exc: Exception) -> list[tuple[str, str]]:
    """What the reader schema asks of a record written before it, field by field: a field it requires
    (no default) that the record does not have, or left null where the field now takes no null (an
    optional field made required). Where the difference is elsewhere (a field's type), fastavro's own
    words, under the field ``payload``."""
    unmet = [
        (str(f["name"]), f"'{f['name']}' is required (the event was written before the spec required it)")
        for f in _payload_fields(reader)
        if "default" not in f
        and (f["name"] not in payload or (payload[f["name"]] is None and not _nullable(f["type"])))
    ]
    return unmet or [("payload", f"not readable under the current spec: {exc}")]


def _nullable(avro_type: Any) -> bool:
    """Whether a field of this Avro type may hold null (a spec's optional field: ``["null", T]``)."""
    return avro_type == "null" or (isinstance(avro_type, list) and "null" in avro_type)


def _json_hint(data: bytes) -> str:
    """The fix, for a JSON value: what a service's own producer sends first, and `dana-wf produce` reads."""
    if data.lstrip()[:1] not in (b"{", b"["):
        return ""
    return (
        "; it is JSON text: a workflow's topics take Avro envelopes framed with their schema id; send JSON "
        "events with `dana-wf produce SPEC --input FILE`, which admits them (docs/kafka-runtime.md, Topics)"
    )


def _sized(data: bytes, sid: int) -> bytes:
    """``data`` when a topic can take it (record_size.check_value_size); its message is built only for a
    record over the limit, not at every step boundary."""
    if len(data) > MAX_VALUE_BYTES:
        check_value_size(data, f"the record for schema {sid}")
    return data


def _poison(data: bytes, sid: int, exc: Exception) -> PoisonMessageError:
    """Bytes that schema ``sid`` cannot read, as the error every decode path raises for them."""
    return PoisonMessageError(f"not valid Avro for schema {sid}: {type(exc).__name__}: {exc}", data, sid)
