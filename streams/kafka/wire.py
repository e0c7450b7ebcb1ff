"""Wire encodings the Kafka runtime adds to the per-boundary envelopes: mixed outcomes and audit rows.

``rejected`` and ``dlq`` carry envelopes from every step (and raw input that never fit a schema), so
their payload and provenance travel as canonical JSON inside one registered ``dwf.MixedEnvelope``
record. Audit rows travel in batches, ``dwf.AuditBatch`` (an array of ``dwf.AuditRow``): one message carries
the rows of many source records, because a Kafka message per row made the audit topic the busiest topic of
the worker (see docs/kafka-runtime.md). A single ``dwf.AuditRow`` message is still read. All use the
Confluent wire format with ids from the same registry as the step topics, so any Avro-aware Kafka tool can
read every topic.
"""

from __future__ import annotations

import io
import json
import struct
from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate, repeat
from typing import Any

import fastavro

from dana_workflows.schemas.avro import IDENTITY_FIELDS
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.codec import compile_schema
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.record_size import MAX_VALUE_BYTES, bounded_payload
from dana_workflows.schemas.registry import SchemaRegistry
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.audit_model import COLUMNS, AuditRow

_HEADER = struct.Struct(">bI")

MIXED_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "MixedEnvelope",
    "namespace": "dwf",
    "doc": "An envelope on rejected/dlq: payload and provenance as canonical JSON (any step's shape).",
    "fields": [
        *IDENTITY_FIELDS,
        {"name": "attempt", "type": "int"},
        {"name": "produced_at", "type": "long"},
        {"name": "payload_json", "type": "string"},
        {"name": "provenance_json", "type": "string"},
        {"name": "chain_seq", "type": "int"},
        {"name": "chain_hash", "type": "string"},
    ],
}

_INT_COLUMNS = {
    "workflow_version": "int",
    "seq": "int",
    "attempt": "int",
    "duration_us": "long",
    "ts_us": "long",
}

AUDIT_ROW_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "AuditRow",
    "namespace": "dwf",
    "doc": "One sealed audit transition (sinks/audit_model.py), on its way to the audit store.",
    "fields": [{"name": c, "type": _INT_COLUMNS.get(c, "string")} for c in COLUMNS],
}

AUDIT_BATCH_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "AuditBatch",
    "namespace": "dwf",
    "doc": "Sealed audit rows of one or more source records, in the order they were written.",
    "fields": [{"name": "rows", "type": {"type": "array", "items": AUDIT_ROW_SCHEMA}}],
}


def _varint(n: int) -> bytes:
    """Avro long: zigzag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _record_of(columns: tuple[str, ...]) -> Callable[[AuditRow], dict[str, Any]]:
    """A row's fields as the dict the compiled encoder reads, built by one dict display of the row's
    attributes: ~0.6 µs a row against ~0.95 for ``AuditRow.as_dict`` (a getattr call per column), on
    every audit row a worker writes. Generated from ``columns`` (AUDIT_ROW_SCHEMA's fields), so the
    two cannot disagree."""
    assert all(c.isidentifier() for c in columns)
    source = "lambda row: {" + ", ".join(f"{c!r}: row.{c}" for c in columns) + "}"
    built: Callable[[AuditRow], dict[str, Any]] = eval(source)  # noqa: S307 - our own column names
    return built


_row_record = _record_of(COLUMNS)


def _frame(sid: int, bodies: list[bytes]) -> bytes:
    """One ``dwf.AuditBatch`` message of rows already encoded: an AuditBatch is a record with one array
    field, so its Avro body is the array encoding: one block (row count, then the rows' encodings) and
    the end marker 0."""
    return _HEADER.pack(0, sid) + _varint(len(bodies)) + b"".join(bodies) + b"\x00"


class AuditBatchBuilder:
    """Rows encoded one at a time (as they are written), framed as one ``dwf.AuditBatch`` message.

    An AuditBatch is a record with one array field, so its Avro body is the array encoding: one block
    (row count, then the rows' encodings) and the end marker 0. Encoding each row when it is added keeps
    ``size`` exact, so a caller can cut a message before it nears the broker's message size limit.
    """

    def __init__(self, codec: WireCodec) -> None:
        self.codec = codec
        self._rows: list[bytes] = []
        self.size = 0  # bytes of the rows' encodings

    def add(self, rows: list[AuditRow]) -> None:
        bodies = self.codec.row_bodies(rows)
        self._rows += bodies
        self.size += sum(map(len, bodies))

    def extend(self, rows: list[AuditRow], limit: int) -> list[bytes]:
        """Add ``rows`` and take a message each time the rows held reach ``limit`` bytes: a message ends
        with the first row that brings it to ``limit`` or past it (cut between rows, so one message may
        pass the limit by one row's size). The rows after the last cut stay in the builder. The same
        messages as ``add([row])`` row by row with a ``take()`` whenever ``size >= limit``; the cuts are
        found by bisecting the running total of the rows' sizes, one step per message, not per row
        (every audit row of a worker goes through here: docs/performance.md, session 13)."""
        bodies = self.codec.row_bodies(rows)
        totals = list(accumulate(map(len, bodies)))  # bytes of the new rows up to and including each
        messages: list[bytes] = []
        start, base = 0, -self.size  # the open message's bytes up to new row i: totals[i] - base
        while start < len(bodies):
            end = bisect_left(totals, base + limit, start)  # the first new row that reaches the limit
            if end == len(bodies):
                break
            self._rows += bodies[start : end + 1]
            messages.append(self.take())
            start, base = end + 1, totals[end]
        if start < len(bodies):
            self._rows += bodies[start:]
            self.size = totals[-1] - base
        return messages

    def __len__(self) -> int:
        return len(self._rows)

    def take(self) -> bytes:
        """The message for the rows added so far; the builder is empty afterwards."""
        message = _frame(self.codec.batch_sid, self._rows)
        self._rows, self.size = [], 0
        return message


class WireCodec:
    """Encoders for the runtime's own records, registered once in ``registry``."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.mixed_sid = registry.register(MIXED_ENVELOPE_SCHEMA)
        self.audit_sid = registry.register(AUDIT_ROW_SCHEMA)
        self.batch_sid = registry.register(AUDIT_BATCH_SCHEMA)
        # compiled once (schemas/codec.py): a worker encodes every audit row it writes, and fastavro's
        # schemaless_writer cost several times as much per row (docs/performance.md, Kafka runtime)
        row_codec = compile_schema(AUDIT_ROW_SCHEMA)
        self._row_encoder = row_codec.encoder
        # the C encoder reading the rows' slots, one call a batch: no dict a row (0.69 -> 0.16 µs a claims
        # row, docs/performance.md, session 14); where it does not run, the dicts of ``_row_record``
        self._rows_encoder = row_codec.attribute_encoder
        # the audit sink decodes every row a worker wrote: fastavro's reader plus a dict per row for
        # AuditRow.from_mapping cost ~3x the compiled decoder's rows built by keyword (docs/performance.md)
        self._batch_decoder = compile_schema(AUDIT_BATCH_SCHEMA).decoder

    def _write(self, sid: int, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, sid))
        fastavro.schemaless_writer(buf, self.registry.parsed(sid), record)
        return buf.getvalue()

    @staticmethod
    def _check_header(data: bytes, sid: int) -> None:
        if len(data) < 5:
            raise PoisonMessageError(f"too short for the wire format ({len(data)} bytes)", data)
        magic, got = _HEADER.unpack_from(data)
        if magic != 0 or got != sid:
            raise PoisonMessageError(
                f"expected schema id {sid} with magic byte 0, got {got} / {data[0]}", data, got
            )

    def _read(self, data: bytes, sid: int) -> dict[str, Any]:
        self._check_header(data, sid)
        try:
            rec: Any = fastavro.schemaless_reader(io.BytesIO(data[5:]), self.registry.parsed(sid), None)
        except Exception as exc:
            raise PoisonMessageError(
                f"not valid Avro for schema {sid}: {type(exc).__name__}: {exc}", data, sid
            ) from None
        return dict(rec)

    def encode_mixed(self, env: Envelope) -> bytes:
        """A rejected/dlq record. One that no topic can take (a 600,000-character field) carries, of its
        larger part first (payload or provenance), the size, digest and first characters instead
        (schemas/record_size.py), so the decision still reaches its topic instead of stopping the
        producer; a part that is not the problem (the provenance with its error) stays readable."""
        record = {
            "event_id": env.event_id,
            "run_id": env.run_id,
            "workflow": env.workflow,
            "workflow_version": env.workflow_version,
            "step": env.step,
            "attempt": env.attempt,
            "produced_at": env.produced_at,
            "payload_json": canonical_json(env.payload),
            "provenance_json": canonical_json(env.provenance),
            "chain_seq": env.chain_seq,
            "chain_hash": env.chain_hash,
        }
        data = self._write(self.mixed_sid, record)
        if len(data) <= MAX_VALUE_BYTES:
            return data
        for name in sorted(("payload_json", "provenance_json"), key=lambda n: -len(str(record[n]))):
            record[name] = canonical_json(bounded_payload(str(record[name])))
            data = self._write(self.mixed_sid, record)
            if len(data) <= MAX_VALUE_BYTES:
                break
        return data

    def decode_mixed(self, data: bytes) -> Envelope:
        r = self._read(data, self.mixed_sid)
        return Envelope(
            r["event_id"],
            r["run_id"],
            r["workflow"],
            r["workflow_version"],
            r["step"],
            json.loads(r["payload_json"]),
            r["produced_at"],
            r["attempt"],
            json.loads(r["provenance_json"]),
            r["chain_seq"],
            r["chain_hash"],
        )

    def encode_row(self, row: AuditRow) -> bytes:
        return self._write(self.audit_sid, row.as_dict())

    def decode_row(self, data: bytes) -> AuditRow:
        return AuditRow.from_mapping(self._read(data, self.audit_sid))

    def encode_row_body(self, row: AuditRow) -> bytes:
        """A row's Avro encoding without the wire-format header (an item of an AuditBatch)."""
        return self._row_encoder(_row_record(row), b"")

    def row_bodies(self, rows: list[AuditRow]) -> list[bytes]:
        """``encode_row_body`` of each row, in order: one call of the C encoder that reads the rows'
        attributes, else driven by ``map`` over their dicts (no Python loop per row either way)."""
        if self._rows_encoder is not None:
            return self._rows_encoder(rows)
        return list(map(self._row_encoder, map(_row_record, rows), repeat(b"")))

    def audit_messages(self, rows: list[AuditRow], limit: int) -> list[bytes]:
        """The rows as AuditBatch messages of about ``limit`` bytes at most (cut between rows, so one
        message may pass the limit by one row's size: keep ``limit`` well below the broker's), cut as
        ``AuditBatchBuilder.extend`` cuts."""
        batch = AuditBatchBuilder(self)
        messages = batch.extend(rows, limit)
        if len(batch):
            messages.append(batch.take())
        return messages

    def encode_rows(self, rows: list[AuditRow]) -> bytes:
        batch = AuditBatchBuilder(self)
        batch.add(rows)
        return batch.take()

    def decode_rows(self, data: bytes) -> list[AuditRow]:
        """The rows of an audit message: an AuditBatch, or a single AuditRow (older producers)."""
        if len(data) >= 5 and _HEADER.unpack_from(data)[1] == self.audit_sid:
            return [self.decode_row(data)]
        self._check_header(data, self.batch_sid)
        try:
            # the schema's fields are COLUMNS exactly, so each decoded row is AuditRow's keywords
            return [AuditRow(**r) for r in self._batch_decoder(bytes(data), 5)["rows"]]
        except Exception as exc:
            raise PoisonMessageError(
                f"not valid Avro for schema {self.batch_sid}: {type(exc).__name__}: {exc}",
                data,
                self.batch_sid,
            ) from None


# Headers on rejected/dlq messages: where the message came from and why it is there.
H_KIND = "dwf-kind"  # poison | decision
H_TOPIC = "dwf-source-topic"
H_PARTITION = "dwf-source-partition"
H_OFFSET = "dwf-source-offset"
H_ERROR = "dwf-error"
H_SCHEMA_ID = "dwf-schema-id"


def source_headers(
    kind: str, topic: str, partition: int, offset: int, error: str, schema_id: int | None
) -> list[tuple[str, bytes]]:
    return [
        (H_KIND, kind.encode()),
        (H_TOPIC, topic.encode()),
        (H_PARTITION, str(partition).encode()),
        (H_OFFSET, str(offset).encode()),
        (H_ERROR, error.encode()[:4000]),
        (H_SCHEMA_ID, b"" if schema_id is None else str(schema_id).encode()),
    ]


def header_map(headers: Any) -> dict[str, str]:
    """Headers as a str -> str dict, whatever list/tuple shape the client returned."""
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    return {k: (v.decode() if isinstance(v, bytes | bytearray) else str(v)) for k, v in items}
