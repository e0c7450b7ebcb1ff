"""Avro schemas derived from the spec: one payload record per step boundary, wrapped in the Envelope.

The Envelope's shape is fixed (schemas/avsc/provenance.avsc holds its provenance part); the payload
record is typed per topic, so each topic carries exactly the fields its step emits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol


class FieldLike(Protocol):
    """What a payload schema needs of a field: the IR's FieldIR has this shape. A protocol, not an import of
    the IR, because the wire format sits below the spec in the layers (docs/architecture.md)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def optional(self) -> bool: ...
    @property
    def doc(self) -> str: ...


AVSC_DIR = Path(__file__).parent / "avsc"


@cache
def provenance_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVSC_DIR / "provenance.avsc").read_text())
    return loaded


def avro_name(text: str) -> str:
    """A valid Avro name from a workflow or step name ('claims-triage' -> 'claims_triage')."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if not name[:1].isdigit() else f"_{name}"


def _field_type(f: FieldLike) -> Any:
    return ["null", f.type] if f.optional else f.type


def payload_schema(
    workflow: str, boundary: str, fields: Mapping[str, FieldLike] | Sequence[FieldLike]
) -> dict[str, Any]:
    items = list(fields.values()) if isinstance(fields, Mapping) else list(fields)
    avro_fields: list[dict[str, Any]] = []
    for f in items:
        entry: dict[str, Any] = {"name": f.name, "type": _field_type(f)}
        if f.optional:
            entry["default"] = None
        if f.doc:
            entry["doc"] = f.doc
        avro_fields.append(entry)
    return {
        "type": "record",
        "name": f"{avro_name(boundary)}_payload",
        "namespace": f"dwf.{avro_name(workflow)}",
        "fields": avro_fields,
    }


# Who an event is and where it stands: the leading fields of every envelope-like record
# (the typed Envelope, the rejected/dlq MixedEnvelope, the local Decision files).
IDENTITY_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "event_id", "type": "string"},
    {"name": "run_id", "type": "string"},
    {"name": "workflow", "type": "string"},
    {"name": "workflow_version", "type": "int"},
    {"name": "step", "type": "string"},
)


def envelope_schema(
    workflow: str, boundary: str, fields: Mapping[str, FieldLike] | Sequence[FieldLike]
) -> dict[str, Any]:
    """The Envelope<Payload> record for one topic."""
    return {
        "type": "record",
        "name": "Envelope",
        "namespace": f"dwf.{avro_name(workflow)}.{avro_name(boundary)}",
        "doc": f"Events on the '{boundary}' boundary of workflow '{workflow}'",
        "fields": [
            *IDENTITY_FIELDS,
            {"name": "attempt", "type": "int"},
            {"name": "produced_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "payload", "type": payload_schema(workflow, boundary, fields)},
            {"name": "provenance", "type": provenance_schema()},
            {"name": "chain_seq", "type": "int", "default": 0},
            {"name": "chain_hash", "type": "string", "default": ""},
        ],
    }
