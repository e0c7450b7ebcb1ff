"""The LLM reply cache: identical calls are answered without a new call, so replays cost nothing.

Only validated replies are stored. Two backends behind one protocol: a sqlite file for the local
runtime (survives restarts, safe across processes), and any mutable mapping, which the Kafka runtime
backs with a faust table (changelog-backed, shared by the consumer group).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from dana_workflows.schemas.canonical import canonical_json


def cache_key(
    models: tuple[str, ...], system: str, prompt: str, params: dict[str, Any], schema: dict[str, Any]
) -> str:
    """sha256 over everything that can change a reply: the model chain, the rendered prompt, the
    sampling parameters and the output schema."""
    content = canonical_json(
        {"models": list(models), "system": system, "prompt": prompt, "params": params, "schema": schema}
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@runtime_checkable
class LLMCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, entry: dict[str, Any]) -> None: ...


class NullLLMCache:
    """No cache at all: the naive efficiency mode, whose every call goes on the wire."""

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        return None


NO_CACHE = NullLLMCache()


class MappingLLMCache:
    """A cache over any mutable mapping (a dict, or a faust table in the Kafka runtime).

    Values are canonical JSON strings so any table serializer carries them unchanged.
    """

    def __init__(self, mapping: MutableMapping[str, Any], prefix: str = "llm-cache:") -> None:
        self.mapping = mapping
        self.prefix = prefix

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.mapping.get(self.prefix + key)
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
        return value

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self.mapping[self.prefix + key] = canonical_json(entry)


class SqliteLLMCache:
    """A persistent cache in one sqlite file under ``directory`` (WAL mode: several readers, one writer)."""

    def __init__(self, directory: Path | str) -> None:
        self.path = Path(directory) / "llm-cache.sqlite3"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, entry TEXT NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise RuntimeError(
                f"LLM cache: cannot open {self.path} ({exc}); set DWF_LLM_CACHE_PATH to a writable directory"
            ) from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT entry FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO replies (key, entry) VALUES (?, ?)", (key, canonical_json(entry))
            )

    def __len__(self) -> int:
        with self._lock:
            n: int = self._db.execute("SELECT count(*) FROM replies").fetchone()[0]
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()
