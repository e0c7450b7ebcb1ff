"""Which source offsets may be committed: only through offsets that were handled or hold no record.

faust can drop a record fetched around a rebalance while later records of the same partition still
arrive (docs/kafka-runtime.md, "Rebalances"); committing the highest offset handled would then commit past
the dropped record and lose its event. So per source partition this keeps a *frontier*: the lowest offset
not yet accounted for. An offset is accounted for once it was handled, or once the broker showed that it
holds no record (a transaction marker, an aborted or compacted record). Handled offsets above a gap wait
there until the gap closes, by a probe of the broker (``BrokerView.scan``) or by a seek back that delivers
the missing record again. Pure bookkeeping: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Key = tuple[str, int]  # (topic, partition) of a source record


@dataclass
class _Partition:
    floor: int | None = None  # committed: every offset below is done for good (None: start not known yet)
    base: int | None = None  # every offset below is handled or absent; the next commit point
    above: set[int] = field(default_factory=set)  # accounted-for offsets >= base (a gap lies at base)

    def advance(self) -> None:
        assert self.base is not None
        while self.base in self.above:
            self.above.discard(self.base)
            self.base += 1


@dataclass(frozen=True)
class Gap:
    """Offsets ``start`` (never accounted for) up to ``last_handled``, the highest offset handled above it."""

    start: int
    last_handled: int


class Frontier:
    def __init__(self) -> None:
        self._parts: dict[Key, _Partition] = {}

    def handled(self, key: Key, offset: int) -> None:
        part = self._parts.setdefault(key, _Partition())
        if part.base is None:
            part.above.add(offset)
        elif offset >= part.base:
            part.above.add(offset)
            part.advance()

    def is_handled(self, key: Key, offset: int) -> bool:
        """True for an offset already handled here (or committed): a second delivery must be skipped."""
        part = self._parts.get(key)
        if part is None:
            return False
        if part.base is not None and offset < part.base:
            return True
        return offset in part.above

    # -- the start of a partition ----------------------------------------------------------------------------
    def unanchored(self) -> list[Key]:
        """Partitions with handled offsets whose start (the group's committed offset) is not known yet."""
        return [k for k, p in self._parts.items() if p.base is None]

    def anchor(self, key: Key, start: int) -> None:
        """The group's committed offset of ``key``: where consuming started; offsets below are done."""
        part = self._parts.setdefault(key, _Partition())
        if part.base is not None:
            return
        part.floor = part.base = start
        part.above = {o for o in part.above if o >= start}
        part.advance()

    # -- gaps ------------------------------------------------------------------------------------------------
    def gaps(self) -> dict[Key, Gap]:
        """Partitions where offsets were handled above one that never was: their commit waits there."""
        return {
            k: Gap(p.base, max(p.above)) for k, p in self._parts.items() if p.base is not None and p.above
        }

    def scanned(self, key: Key, start: int, end: int, records: Iterable[int]) -> list[int]:
        """The broker holds exactly ``records`` among offsets ``start``..``end`` (inclusive): the others are
        not records and are accounted for. Returns the records in the range that were never handled."""
        part = self._parts.get(key)
        if part is None or part.base is None:
            return []
        real = set(records)
        for offset in range(max(start, part.base), end + 1):
            if offset not in real:
                part.above.add(offset)
        part.advance()
        return sorted(o for o in real if o >= part.base and o not in part.above)

    def partitions(self) -> list[Key]:
        return list(self._parts)

    def bases(self) -> dict[Key, int]:
        """The frontier of every partition whose start is known and that has no gap."""
        return {k: p.base for k, p in self._parts.items() if p.base is not None and not p.above}

    def settled(self, key: Key) -> bool:
        """Nothing of ``key`` waits: its start is known and no handled offset lies above a gap."""
        part = self._parts.get(key)
        return part is None or (part.base is not None and not part.above)

    # -- commits ---------------------------------------------------------------------------------------------
    def commit_point(self, key: Key) -> int | None:
        """The offset to commit for ``key`` if it moved since the last commit, else None."""
        part = self._parts.get(key)
        if part is None or part.base is None or part.floor is None or part.base <= part.floor:
            return None
        return part.base

    def commit_floor(self, key: Key) -> int | None:
        part = self._parts.get(key)
        return None if part is None else part.floor

    def committed(self, key: Key, offset: int) -> None:
        part = self._parts.setdefault(key, _Partition())
        if part.base is None:
            self.anchor(key, offset)
            return
        part.floor = max(offset, part.floor if part.floor is not None else offset)
        if part.base < offset:  # committed by someone else past what we handled: that is done too
            part.base = offset
            part.above = {o for o in part.above if o >= offset}
            part.advance()

    def rewind(self, key: Key) -> None:
        """What was handled above the committed offset is void (its transaction was aborted): redo it."""
        part = self._parts.get(key)
        if part is None:
            return
        part.base = part.floor
        part.above = set()

    def keep_only(self, keys: Iterable[Key]) -> None:
        """Forget partitions that are not ours any more: their next owner accounts for them."""
        keep = set(keys)
        for key in [k for k in self._parts if k not in keep]:
            del self._parts[key]
