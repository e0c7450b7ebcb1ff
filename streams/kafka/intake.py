"""The step agents' records, taken from the fetch a batch at a time, in a queue this runtime owns.

faust hands a fetched record to its agent one at a time (its fetcher, ``wait_first``, conductor, channel
and stream: several futures and event-loop turns a record, a quarter of a worker's CPU, docs/performance.md
session 11). For the step agents' source topics the worker's consumer (``fetch_divert.py``) puts a whole
fetched list of a partition here instead, and the agent takes up to ``max_batch`` records at once (each
topic's agent only its own topic's records: the per-step layout has one agent per step topic).

The rules that keep every record handled once, learned from how faust lost records (docs/kafka-runtime.md,
"Dropped records"; faust's ``flow_control.resume()`` after recovery emptied channel queues whose records the
client had already read past):

* the queue is never one that faust's flow control manages: only ``close`` empties it;
* each partition keeps its own *position*: the first offset not yet put in the queue. A record below it
  was queued already (a seek back re-reads it): skipped. The client's position is not trusted;
* a partition is closed (its records are dropped as they come) from the moment faust stops the flow for a
  revocation until recovery has completed after the next assignment; ``close`` drops every record queued
  and not taken, and bumps the generation: a batch taken before it is not handled (its records come again);
* ``reopen`` (after recovery) asks where consuming starts (the group's committed offset, else the log's
  start) and marks a seek due; until the fetch loop has sought the client there, records are dropped. Any
  record the loop has to drop while a partition is open makes a seek back to the position due as well,
  so nothing the client read past is ever left behind.

Pure bookkeeping and waiting; the client calls are the fetch loop's (``fetch_divert.py``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.streams.kafka.frontier import Key

log = logging.getLogger(__name__)

ROOM = 4000  # records queued (all partitions) above which the fetch loop waits before fetching more
START_RETRY_S = 0.5  # a failed look-up of the start offsets is retried after this, until the next close


@dataclass
class _Partition:
    position: int  # the first offset not queued yet (and where the client must read from next)
    seek_due: bool = True  # the client's position is not ``position``: records are dropped until sought
    queued: deque[Any] = field(default_factory=deque)


def _first_at_or_after(records: Sequence[Any], offset: int) -> int:
    """Index of the first record with ``offset`` or above (a fetched list is in offset order)."""
    return bisect.bisect_left(records, offset, key=lambda r: r.offset)


class Intake:
    def __init__(self, room: int = ROOM) -> None:
        self.topics: set[str] = set()
        self.generation = 0  # bumped by every close: batches taken before it are not handled
        self.room = room
        self.dropped = 0  # records dropped by a closed or seeking partition (fetched again later)
        self._parts: dict[Key, _Partition] = {}
        self._size = 0  # all topics (the room is shared: one fetch loop fills it)
        self._sizes: dict[str, int] = {}  # per topic: each topic's agent takes its own records
        self._ready: dict[str, asyncio.Event] = {}  # per topic: something is queued
        self._roomy = asyncio.Event()  # the queue is below ``room``
        self._roomy.set()
        self._rotation = 0  # which partition a batch starts with (no partition starves the others)

    def add_topic(self, topic: str) -> None:
        self.topics.add(topic)
        self._sizes.setdefault(topic, 0)
        self._ready.setdefault(topic, asyncio.Event())

    def diverts(self, topic: str) -> bool:
        return topic in self.topics

    # -- the fetch loop's side -------------------------------------------------------------------------------
    def offer(self, key: Key, records: Sequence[Any]) -> None:
        """A partition's fetched records (offset order): queued from the position on, or dropped."""
        part = self._parts.get(key)
        if part is None or part.seek_due:
            self.dropped += len(records)  # closed: reopen seeks; seeking: the seek re-reads them
            return
        start = _first_at_or_after(records, part.position)
        if start == len(records):
            return  # read again after a seek back: all queued before
        fresh = records[start:] if start else records
        part.queued.extend(fresh)
        part.position = fresh[-1].offset + 1
        self._size += len(fresh)
        self._sizes[key[0]] += len(fresh)
        self._ready[key[0]].set()
        if self._size >= self.room:
            self._roomy.clear()

    def discarded(self, key: Key, count: int = 0) -> None:
        """The fetch loop read records of ``key`` it could not offer (``count`` of them dropped here): the
        client must go back."""
        self.dropped += count
        part = self._parts.get(key)
        if part is not None:
            part.seek_due = True

    def seeks_due(self) -> dict[Key, int]:
        """Open partitions whose client position must be set to their position before the next fetch."""
        return {k: p.position for k, p in self._parts.items() if p.seek_due}

    def sought(self, key: Key, offset: int) -> None:
        """The client was sought to ``offset``: records of ``key`` are queued again from there."""
        part = self._parts.get(key)
        if part is not None and part.position == offset:
            part.seek_due = False

    def full(self) -> bool:
        return self._size >= self.room

    async def wait_room(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until the queue is below ``room``. A cancellation of the waiting task
        always ends it: ``asyncio.timeout``, not ``wait_for``, which in Python 3.11 returns the inner result
        when the room and the cancel come in one loop turn, as they do when faust stops the fetcher at a
        rebalance right after ``stop_flow`` closed the intake (fetch_divert.py)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._roomy.wait()

    # -- rebalances ------------------------------------------------------------------------------------------
    def close(self) -> int:
        """Partitions are being revoked (or the consumer stops): drop what is queued, open nothing."""
        dropped = self._size
        self.generation += 1
        self._parts.clear()
        self._size = 0
        for topic in self._sizes:
            self._sizes[topic] = 0
            self._ready[topic].clear()
        self._roomy.set()
        if dropped:
            log.info("%d fetched records not taken before the revocation: they are fetched again", dropped)
        return dropped

    def open(self, starts: dict[Key, int], generation: int) -> bool:
        """Recovery completed for an assignment of ``generation``: partitions of ``starts`` take records
        from their start on, once the client was sought there. False if a close came in between."""
        if generation != self.generation:
            return False
        for key, start in starts.items():
            # an open partition keeps its position and queue (a second reopen of one assignment)
            if key[0] in self.topics and key not in self._parts:
                self._parts[key] = _Partition(position=start)
        return True

    async def reopen(
        self,
        assigned: Iterable[Key],
        starts: Callable[[list[Key]], Awaitable[dict[Key, int]]],
        generation: int,
    ) -> bool:
        """After recovery of an assignment of ``generation`` (read when recovery ended, not when this task
        first runs: a close in between must win): look up where each assigned partition of our topics
        starts, then ``open``. Retried until it succeeds or the partitions are revoked again."""
        keys = sorted(k for k in assigned if k[0] in self.topics)
        if not keys:
            return False
        while generation == self.generation:
            try:
                found = await starts(keys)
            except Exception as exc:  # the broker is busy with the rebalance: the partitions wait
                log.warning("start offsets of %s: %s: %s (retrying)", keys, type(exc).__name__, exc)
                await asyncio.sleep(START_RETRY_S)
                continue
            opened = self.open(found, generation)
            if opened:
                log.info("fetched records of %s go to their agents in batches from %s", keys, found)
            return opened
        return False

    # -- the agent's side ------------------------------------------------------------------------------------
    async def take(self, topic: str, max_batch: int) -> tuple[list[Any], int]:
        """Up to ``max_batch`` queued records of ``topic`` (each partition's in offset order) and the
        generation they were taken in. Waits until there is one."""
        ready = self._ready[topic]
        while True:
            while not self._sizes[topic]:
                ready.clear()
                await ready.wait()
            parts = [p for k, p in self._parts.items() if p.queued and k[0] == topic]
            if parts:
                break
            # the counts say queued, the partitions hold nothing: a bookkeeping bug, never a reason to
            # stop the agent; count again from the queues themselves
            log.error("intake of %s: %d counted, none queued; recounted", topic, self._sizes[topic])
            self._recount()
        batch: list[Any] = []
        self._rotation = (self._rotation + 1) % len(parts)
        parts = parts[self._rotation :] + parts[: self._rotation]
        share = max(1, max_batch // len(parts))
        for part in parts:
            want = min(share, max_batch - len(batch))
            queued = part.queued
            if want >= len(queued):
                batch.extend(queued)
                queued.clear()
            else:
                batch.extend(queued.popleft() for _ in range(want))
            if len(batch) >= max_batch:
                break
        self._size -= len(batch)
        self._sizes[topic] -= len(batch)
        if not self._sizes[topic]:
            ready.clear()
        if self._size < self.room:
            self._roomy.set()
        return batch, self.generation

    def queued(self) -> int:
        return self._size

    def _recount(self) -> None:
        for topic in self._sizes:
            self._sizes[topic] = sum(len(p.queued) for k, p in self._parts.items() if k[0] == topic)
        self._size = sum(self._sizes.values())
        if self._size < self.room:
            self._roomy.set()
