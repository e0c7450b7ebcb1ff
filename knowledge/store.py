"""The knowledge store: every chunk version and every sync, insert-only, in ClickHouse or chdb.

Two tables. ``knowledge_chunks`` holds each (chunk id, version) once, with its text and metadata.
``knowledge_syncs`` holds one row per sync of a source that changed something: its manifest (the
(chunk id, version) pairs the source consists of from then on) and its quality report. A sync writes
the new chunk versions first and its manifest row last, and readers only ever follow manifests: a sync
that failed half-way left at most unreferenced chunk rows, which nothing serves. Nothing is updated or
deleted, so every version ever served can be read back (replay, ``knowledge diff``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.knowledge.backend import DEFAULT_DSN, SqlBackend, open_backend
from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.sinks.audit_model import sql_string

CHUNKS = "knowledge_chunks"
SYNCS = "knowledge_syncs"
USES = "knowledge_uses"
CHUNK_COLUMNS = ("source", "chunk_id", "version", "text", "meta", "updated_us", "ingested_us")
SYNC_COLUMNS = ("sync_id", "source", "ts_us", "manifest_hash", "manifest", "quality", "declaration")


@dataclass(frozen=True, slots=True)
class SyncRecord:
    sync_id: str
    source: str
    ts_us: int
    manifest: tuple[tuple[str, str], ...]  # (chunk id, version), in source order
    quality: dict[str, Any] = field(default_factory=dict)
    declaration: dict[str, Any] = field(default_factory=dict)

    def versions(self) -> dict[str, str]:
        return dict(self.manifest)


@dataclass(frozen=True, slots=True)
class ContextUse:
    """The context of one call: (section, chunk id, version) in prompt order, and each source's sync."""

    layout: list[tuple[str, str, str]]
    syncs: dict[str, str]


def manifest_hash(manifest: Iterable[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(manifest)).encode()).hexdigest()[:16]


class KnowledgeStore:
    def __init__(self, backend: SqlBackend) -> None:
        self.backend = backend
        db = backend.database
        self.chunks_table = f"{db}.{CHUNKS}"
        self.syncs_table = f"{db}.{SYNCS}"
        self.uses_table = f"{db}.{USES}"
        self._ready = False

    @classmethod
    def open(cls, dsn: str | None = None) -> KnowledgeStore:
        return cls(open_backend(dsn or DEFAULT_DSN))

    def close(self) -> None:
        self.backend.close()

    def ensure_schema(self) -> None:
        if self._ready:
            return
        b = self.backend
        b.execute(f"CREATE DATABASE IF NOT EXISTS {b.database}")
        b.execute(
            f"CREATE TABLE IF NOT EXISTS {self.chunks_table} (source String, chunk_id String, "
            "version String, text String, meta String, updated_us UInt64, ingested_us UInt64) "
            "ENGINE = MergeTree() ORDER BY (source, chunk_id, version)"
        )
        b.execute(
            f"CREATE TABLE IF NOT EXISTS {self.syncs_table} (sync_id String, source String, ts_us UInt64, "
            "manifest_hash String, manifest String, quality String, declaration String) "
            "ENGINE = MergeTree() ORDER BY (source, ts_us)"
        )
        b.execute(
            f"CREATE TABLE IF NOT EXISTS {self.uses_table} (workflow String, step String, run_id String, "
            "layout String, ts_us UInt64) ENGINE = MergeTree() ORDER BY (workflow, step, run_id)"
        )
        self._ready = True

    # -- writing -------------------------------------------------------------------------------
    def record_sync(
        self,
        source: str,
        chunks: Sequence[Chunk],
        quality: dict[str, Any],
        declaration: dict[str, Any],
        ts_us: int,
    ) -> SyncRecord | None:
        """Store a source's new content; None when it is what the latest sync holds already."""
        self.ensure_schema()
        manifest = tuple(c.ref() for c in chunks)
        latest = self.latest().get(source)
        if latest is not None and manifest_hash(latest.manifest) == manifest_hash(manifest):
            return None
        known = self._stored_refs(source)
        new = [c for c in chunks if c.ref() not in known]
        self.backend.insert(
            self.chunks_table,
            CHUNK_COLUMNS,
            [
                (
                    c.source,
                    c.chunk_id,
                    c.version,
                    c.text,
                    json.dumps(c.meta, sort_keys=True),
                    c.updated_us,
                    ts_us,
                )
                for c in new
            ],
        )
        record = SyncRecord(uuid.uuid4().hex, source, ts_us, manifest, quality, declaration)
        self.backend.insert(  # last: from this row on, readers see the new content
            self.syncs_table,
            SYNC_COLUMNS,
            [
                (
                    record.sync_id,
                    source,
                    ts_us,
                    manifest_hash(manifest),
                    json.dumps(manifest),
                    json.dumps(quality, sort_keys=True),
                    json.dumps(declaration, sort_keys=True),
                )
            ],
        )
        return record

    def _stored_refs(self, source: str) -> set[tuple[str, str]]:
        rows = self.backend.select(
            f"SELECT chunk_id, version FROM {self.chunks_table} WHERE source = {sql_string(source)}"
        )
        return {(str(a), str(b)) for a, b in rows}

    def pin(self, workflow: str, step: str, run_id: str, use: ContextUse, ts_us: int) -> None:
        """Record the context one call of `step` used for `run_id` (what a replay repeats)."""
        self.ensure_schema()
        doc = json.dumps({"layout": [list(x) for x in use.layout], "syncs": use.syncs}, sort_keys=True)
        self.backend.insert(
            self.uses_table,
            ("workflow", "step", "run_id", "layout", "ts_us"),
            [(workflow, step, run_id, doc, ts_us)],
        )

    def pinned(self, workflow: str, step: str, run_id: str) -> ContextUse | None:
        """The first recorded context of that call, or None."""
        self.ensure_schema()
        rows = self.backend.select(
            f"SELECT layout FROM {self.uses_table} WHERE workflow = {sql_string(workflow)} AND "
            f"step = {sql_string(step)} AND run_id = {sql_string(run_id)} ORDER BY ts_us LIMIT 1"
        )
        if not rows:
            return None
        doc = json.loads(rows[0][0])
        return ContextUse([(str(a), str(b), str(c)) for a, b, c in doc["layout"]], dict(doc["syncs"]))

    # -- reading -------------------------------------------------------------------------------
    def latest(self) -> dict[str, SyncRecord]:
        """The latest sync of every source."""
        self.ensure_schema()
        cols = ", ".join(SYNC_COLUMNS)
        rows = self.backend.select(
            f"SELECT {cols} FROM {self.syncs_table} WHERE (source, ts_us) IN "
            f"(SELECT source, max(ts_us) FROM {self.syncs_table} GROUP BY source) ORDER BY source"
        )
        return {r.source: r for r in map(_sync_record, rows)}

    def history(self, source: str) -> list[SyncRecord]:
        """Every sync of a source, oldest first."""
        self.ensure_schema()
        rows = self.backend.select(
            f"SELECT {', '.join(SYNC_COLUMNS)} FROM {self.syncs_table} "
            f"WHERE source = {sql_string(source)} ORDER BY ts_us"
        )
        return [_sync_record(r) for r in rows]

    def chunks(self, source: str, refs: Iterable[tuple[str, str]]) -> list[Chunk]:
        """The stored chunks of `refs` (id, version) of one source, in the order of `refs`."""
        self.ensure_schema()
        wanted = list(refs)
        if not wanted:
            return []
        rows = self.backend.select(
            f"SELECT {', '.join(CHUNK_COLUMNS)} FROM {self.chunks_table} WHERE source = {sql_string(source)}"
        )
        found: dict[tuple[str, str], Chunk] = {}
        for r in rows:
            chunk = _chunk(r)
            found[chunk.ref()] = chunk
        return [found[ref] for ref in wanted if ref in found]

    def chunk_versions(self, chunk_id: str) -> list[Chunk]:
        """Every stored version of one chunk, oldest first (by when it was first stored)."""
        self.ensure_schema()
        source = chunk_id.split(":", 1)[0]
        rows = self.backend.select(
            f"SELECT {', '.join(CHUNK_COLUMNS)} FROM {self.chunks_table} WHERE source = {sql_string(source)} "
            f"AND chunk_id = {sql_string(chunk_id)} ORDER BY ingested_us"
        )
        return [_chunk(r) for r in rows]

    def snapshot(self, sources: Iterable[str] | None = None) -> dict[str, tuple[SyncRecord, list[Chunk]]]:
        """The current content of each source (all when None): its latest sync and its chunks."""
        latest = self.latest()
        names = list(latest) if sources is None else [s for s in sources if s in latest]
        return {s: (latest[s], self.chunks(s, latest[s].manifest)) for s in names}


def _chunk(r: Sequence[Any]) -> Chunk:
    return Chunk(str(r[1]), str(r[0]), str(r[3]), json.loads(r[4]), str(r[2]), int(r[5]))


def _sync_record(row: Sequence[Any]) -> SyncRecord:
    sync_id, source, ts_us, _hash, manifest, quality, declaration = row
    return SyncRecord(
        str(sync_id),
        str(source),
        int(ts_us),
        tuple((str(a), str(b)) for a, b in json.loads(manifest)),
        json.loads(quality),
        json.loads(declaration),
    )
