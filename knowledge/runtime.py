"""The knowledge a worker serves: the latest synced snapshot of every source, indexed per tokenizer.

One base per store and process (``base_for``), shared by every llm step of the worker, in both
runtimes. It looks for newer syncs at most every ``refresh_s`` seconds and then rebuilds its indexes
from the store (a sync is visible only once complete: see store.py). Versions a replay pins are read
back from the store, whatever the snapshot holds by then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.knowledge.index import ChunkIndex
from dana_workflows.knowledge.store import KnowledgeStore, SyncRecord
from dana_workflows.knowledge.tokens import counter_for

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    syncs: dict[str, SyncRecord]
    chunks: list[Chunk]
    roles: dict[str, str]  # source -> section it fills
    quality: dict[str, float]  # chunk id -> score
    freshness: dict[str, float]  # chunk id -> freshness at sync time
    latest: dict[str, str]  # chunk id -> version


def load_snapshot(store: KnowledgeStore) -> Snapshot:
    snap = store.snapshot()
    chunks: list[Chunk] = []
    roles: dict[str, str] = {}
    quality: dict[str, float] = {}
    fresh: dict[str, float] = {}
    for source, (record, got) in snap.items():
        chunks.extend(got)
        roles[source] = str(record.declaration.get("role", "knowledge"))
        per = record.quality.get("chunks", {})
        for c in got:
            q = per.get(c.chunk_id, {})
            quality[c.chunk_id] = float(q.get("score", 1.0))
            fresh[c.chunk_id] = float(q.get("freshness", 1.0))
    latest = {c.chunk_id: c.version for c in chunks}
    return Snapshot({s: r for s, (r, _) in snap.items()}, chunks, roles, quality, fresh, latest)


class KnowledgeBase:
    def __init__(
        self, store: KnowledgeStore, *, refresh_s: float = 30.0, clock: Clock = wall_clock_us
    ) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self.snapshot = load_snapshot(store)
        self._indexes: dict[str, ChunkIndex] = {}
        self._checked_us = clock()

    def index(self, model: str) -> ChunkIndex:
        """The snapshot's index with `model`'s token counter (built on first use)."""
        counter = counter_for(model)
        with self._lock:
            index = self._indexes.get(counter.name)
            if index is None:
                s = self.snapshot
                index = ChunkIndex(s.chunks, counter, s.roles, s.quality)
                self._indexes[counter.name] = index
            return index

    def refresh(self) -> bool:
        """Reload when a source has a newer sync than the snapshot (at most every refresh_s); True if so."""
        now = self.clock()
        if now - self._checked_us < self.refresh_s * _US:
            return False
        self._checked_us = now
        latest = {s: r.sync_id for s, r in self.store.latest().items()}
        if latest == {s: r.sync_id for s, r in self.snapshot.syncs.items()}:
            return False
        snapshot = load_snapshot(self.store)
        with self._lock:
            self.snapshot = snapshot
            self._indexes = {}
        return True

    def versions(self, refs: Iterable[tuple[str, str, str]]) -> list[tuple[str, Chunk]]:
        """(section, chunk) of pinned (section, chunk id, version) triples, read from the store."""
        wanted = list(refs)
        by_source: dict[str, list[tuple[str, str]]] = {}
        for _, chunk_id, version in wanted:
            by_source.setdefault(chunk_id.split(":", 1)[0], []).append((chunk_id, version))
        found = {c.ref(): c for src, refs_ in by_source.items() for c in self.store.chunks(src, refs_)}
        return [(section, found[(cid, v)]) for section, cid, v in wanted if (cid, v) in found]


_BASES: dict[str, KnowledgeBase] = {}
_BASES_LOCK = threading.Lock()


def base_for(dsn: str, refresh_s: float = 30.0) -> KnowledgeBase:
    """The process's knowledge base for the store `dsn` (opened on first use)."""
    with _BASES_LOCK:
        base = _BASES.get(dsn)
        if base is None:
            base = KnowledgeBase(KnowledgeStore.open(dsn), refresh_s=refresh_s)
            _BASES[dsn] = base
        return base


def close_bases() -> None:
    with _BASES_LOCK:
        for base in _BASES.values():
            base.store.close()
        _BASES.clear()
