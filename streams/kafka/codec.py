"""Wire encodings the Kafka runtime adds to the per-boundary envelopes: mixed outcomes and audit rows.

``rejected`` and ``dlq`` carry envelopes from every step (and raw input that never fit a schema), so
their payload and provenance travel as canonical JSON inside one registered ``dwf.MixedEnvelope``
record. Audit rows travel as ``dwf.AuditRow`` records. Both use the Confluent wire format with ids
from the same registry as the step topics, so any Avro-aware Kafka tool can read every topic.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro

from schemas.canonical import canonical_json
from schemas.envelope import Envelope
from schemas.registry import FileRegistry
from schemas.serde import PoisonMessageError
from sinks.audit_model import COLUMNS, AuditRow

_HEADER = struct.Struct(">bI")

MIXED_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "MixedEnvelope",
    "namespace": "dwf",
    "doc": "An envelope on rejected/dlq: payload and provenance as canonical JSON (any step's shape).",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "run_id", "type": "string"},
        {"name": "workflow", "type": "string"},
        {"name": "workflow_version", "type": "int"},
        {"name": "step", "type": "string"},
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


class WireCodec:
    """Encoders for the runtime's own records, registered once in ``registry``."""

    def __init__(self, registry: FileRegistry) -> None:
        self.registry = registry
        self.mixed_sid = registry.register(MIXED_ENVELOPE_SCHEMA)
        self.audit_sid = registry.register(AUDIT_ROW_SCHEMA)

    def _write(self, sid: int, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, sid))
        fastavro.schemaless_writer(buf, self.registry.parsed(sid), record)
        return buf.getvalue()

    def _read(self, data: bytes, sid: int) -> dict[str, Any]:
        if len(data) < 5:
            raise PoisonMessageError(f"too short for the wire format ({len(data)} bytes)", data)
        magic, got = _HEADER.unpack_from(data)
        if magic != 0 or got != sid:
            raise PoisonMessageError(
                f"expected schema id {sid} with magic byte 0, got {got} / {magic}", data, got
            )
        try:
            rec: Any = fastavro.schemaless_reader(io.BytesIO(data[5:]), self.registry.parsed(sid), None)
        except Exception as exc:
            raise PoisonMessageError(
                f"not valid Avro for schema {sid}: {type(exc).__name__}: {exc}", data, sid
            ) from None
        return dict(rec)

    def encode_mixed(self, env: Envelope) -> bytes:
        return self._write(
            self.mixed_sid,
            {
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
            },
        )

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
