"""Output files named like the Kafka topics: dwf.<workflow>.<boundary>.jsonl (or .avro)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import fastavro

from dana_workflows.schemas.avro import IDENTITY_FIELDS
from dana_workflows.schemas.canonical import canonical_json, canonical_json_line
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.topology import Topology

# Decision records: timestamps and chain hashes are left out so two runs are byte-identical.
DECISION_FIELDS = ("event_id", "run_id", "workflow", "workflow_version", "step", "payload", "provenance")

_MIXED_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Decision",
    "namespace": "dwf",
    "fields": [
        *IDENTITY_FIELDS,
        {"name": "payload_json", "type": "string"},
        {"name": "provenance_json", "type": "string"},
    ],
}


def decision_record(env: Envelope) -> dict[str, Any]:
    """DECISION_FIELDS of the envelope's record, read directly (this runs once per event)."""
    return {
        "event_id": env.event_id,
        "run_id": env.run_id,
        "workflow": env.workflow,
        "workflow_version": env.workflow_version,
        "step": env.step,
        "payload": env.payload,
        "provenance": env.provenance,
    }


class OutputFiles:
    def __init__(
        self, directory: Path, topology: Topology, fmt: str = "jsonl", *, append: bool = False
    ) -> None:
        if fmt not in ("jsonl", "avro"):
            raise ValueError(f"unknown output format {fmt!r}: use jsonl or avro")
        if append and fmt != "jsonl":
            raise ValueError("only JSON-lines outputs can be appended to (an Avro file is written whole)")
        self.append = append  # True: records are added to a run's files (review decisions, dlq replays)
        self.directory = directory
        self.topology = topology
        self.fmt = fmt
        self._files: dict[str, IO[bytes]] = {}
        self._avro: dict[str, list[dict[str, Any]]] = {}
        self.paths: dict[str, Path] = {}
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, boundary: str, env: Envelope) -> None:
        if self.fmt == "avro":
            self._avro.setdefault(boundary, []).append(self._avro_record(env))
            return
        self._jsonl(boundary).write(canonical_json_line(decision_record(env)))

    def write_record(self, boundary: str, record: dict[str, Any]) -> None:
        """A flat record that is not an envelope (drift records): always JSON lines."""
        self._jsonl(boundary).write(canonical_json_line(record))

    def _jsonl(self, boundary: str) -> IO[bytes]:
        """The boundary's JSON-lines file, opened on its first record."""
        fh = self._files.get(boundary)
        if fh is None:
            path = self.directory / f"{self.topology.topic(boundary)}.jsonl"
            fh = self._files[boundary] = path.open("ab" if self.append else "wb")
            self.paths[boundary] = path
        return fh

    def _avro_record(self, env: Envelope) -> dict[str, Any]:
        rec = decision_record(env)
        return {
            **{k: rec[k] for k in DECISION_FIELDS[:5]},
            "payload_json": canonical_json(rec["payload"]),
            "provenance_json": canonical_json(rec["provenance"]),
        }

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        schema = fastavro.parse_schema(_MIXED_SCHEMA)
        for boundary, records in self._avro.items():
            path = self.directory / f"{self.topology.topic(boundary)}.avro"
            with path.open("wb") as out:
                fastavro.writer(out, schema, records, codec="deflate", sync_marker=b"dana-workflows!!")
            self.paths[boundary] = path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    # split on newlines only: str.splitlines would also cut at U+2028, which JSON strings hold raw
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
