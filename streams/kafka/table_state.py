"""A MutableMapping over a faust table whose changes are sent with the record that made them.

The drift observer keeps its windows and its audit chain head in a MutableMapping of JSON values.
Here that mapping is a changelog-backed faust table (``app.Table``): faust fills the table's local store
from the changelog before the agent gets its first record, so a restarted worker continues the open
windows' counts where the changelog left them.

Why not ``table[key] = value``: faust sends those changelog messages from a buffer, through its
non-transactional producer, at a time of its choosing, so they are not atomic with the record's outputs
and offset. This mapping buffers one record's changes and ``flush`` sends them through the record's
``commit.Section``: under exactly-once the changelog writes, the drift records, the audit rows and the
offset commit are one transaction, so a worker killed at any point restarts with counts that include
exactly the records whose offsets were committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

_DELETED = object()
_MISSING = object()


class TableState(MutableMapping[str, Any]):
    """String keys, JSON values, over the local store of a faust table with raw (bytes) serializers."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.changelog_topic: str = table.changelog_topic.get_topic_name()
        self._dirty: dict[str, Any] = {}  # this record's changes, _DELETED for a removed key
        self._read: dict[str, Any] = {}  # decoded values read during this record

    # -- reads go through this record's changes to the table's store ---------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in self._dirty:
            value = self._dirty[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        if key in self._read:
            return self._read[key]
        raw = self.table.data[key.encode()]  # KeyError when absent
        value = self._read[key] = json.loads(raw)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """``Mapping.get`` without its extra frame and try/except for a key this record changed or read
        already: the drift monitor reads ~6 keys an event (~0.3 µs an event, docs/performance.md, session
        16); any other key as ``Mapping.get`` reads it."""
        value = self._dirty.get(key, _MISSING)
        if value is not _MISSING:
            return default if value is _DELETED else value
        value = self._read.get(key, _MISSING)
        if value is not _MISSING:
            return value
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self._dirty[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._dirty[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key in self._dirty:
            return self._dirty[key] is not _DELETED
        return key.encode() in self.table.data

    def __iter__(self) -> Iterator[str]:
        keys = {k.decode() if isinstance(k, bytes) else str(k) for k in self.table.data}
        keys |= set(self._dirty)
        return iter(sorted(k for k in keys if k in self))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # -- the record's end -----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._dirty)

    async def flush(self, section: Any) -> int:
        """Send this record's changes to the changelog inside ``section`` and apply them to the local
        store; return how many keys changed."""
        changed = len(self._dirty)
        for key, value in self._dirty.items():
            k = key.encode()
            if value is _DELETED:
                self.table.data.pop(k, None)
                await section.send(self.changelog_topic, k, None)  # a tombstone: compaction drops the key
            else:
                raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
                self.table.data[k] = raw
                await section.send(self.changelog_topic, k, raw)
        self.discard()
        return changed

    def discard(self) -> None:
        """Forget this record's changes (the record was not handled) and the values read."""
        self._dirty.clear()
        self._read.clear()
