"""Fault injection for tests: drop chosen records before their agent sees them, as faust does with a
record fetched around a rebalance (commit.py). The committer must find each one and handle it from the
broker's copy. Off unless ``DWF_FAULT_DROP_RECORDS`` is set: ``<topic>:<partition>:<offset>`` entries,
comma-separated, where ``<topic>`` matches the end of a topic name (``claims-triage.in:0:3``); each drops
the first record delivered at or after ``<offset>`` (under exactly-once some offsets are transaction
markers, which are never delivered).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

ENV = "DWF_FAULT_DROP_RECORDS"


class DroppedRecords:
    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get(ENV, "") if spec is None else spec
        self._pending: set[tuple[str, int, int]] = set()
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            try:
                topic, partition, offset = entry.rsplit(":", 2)
                self._pending.add((topic, int(partition), int(offset)))
            except ValueError:
                raise ValueError(
                    f"{ENV}: {entry!r} is not <topic>:<partition>:<offset> (e.g. claims-triage.in:0:3)"
                ) from None
        self.dropped = 0

    def drop(self, msg: Any) -> bool:
        """True (once per entry) when ``msg`` is one of the records to drop."""
        if not self._pending:
            return False
        for entry in self._pending:
            topic, partition, offset = entry
            if msg.partition == partition and msg.offset >= offset and msg.topic.endswith(topic):
                self._pending.discard(entry)
                self.dropped += 1
                log.warning(
                    "fault injection: dropped %s[%d]@%d before its agent", msg.topic, partition, offset
                )
                return True
        return False
