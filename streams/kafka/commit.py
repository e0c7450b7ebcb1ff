"""Offsets are committed here, never by faust's ack bookkeeping: a source offset is committed only with
everything its processing produced.

Why not faust's own commits: faust snapshots acked offsets *before* it takes a partition's transaction
lock, so a commit can carry sends of an event whose offset it does not commit; after a crash that event
is processed again and its outputs appear twice, even under exactly-once. Here an event's sends and the
registration of its offset happen inside one critical section per transaction (``section``), and the
commit takes the same lock, so a transaction always holds whole events.

* at-least-once: sends go through the app's producer; a commit flushes the producer (every send of a
  registered event is acknowledged by the broker), then commits the offsets through the consumer group.
* exactly-once: sends go into the transaction of the *source* partition (faust starts one transactional
  producer per assigned partition group); a commit adds the offsets to that transaction and commits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from aiokafka.structs import TopicPartition

log = logging.getLogger(__name__)


class Committer:
    def __init__(self, app: Any, exactly_once: bool, interval_s: float = 1.0) -> None:
        self.app = app
        self.exactly_once = exactly_once
        self.interval_s = interval_s
        self._pending: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset to consume
        self._alo_lock = asyncio.Lock()
        self.last_commit_at = time.monotonic()
        self.committed_events = 0
        self._registered = 0
        self.broken: BaseException | None = None  # set when a record was half handled: never commit again

    # -- inside an agent -----------------------------------------------------------------------------------
    def _tid(self, topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[Section]:
        """Sends of one source record, atomic with respect to commits of its partition's transaction."""
        if not self.exactly_once:
            yield Section(self, None, topic, partition)
            return
        tid = self._tid(topic, partition)
        producer = self.app.producer
        lock = producer._trn_locks.get(tid)
        if lock is None:
            raise PartitionRevokedError(
                f"no transaction for {topic}[{partition}] ({tid}): partition not ours"
            )
        async with lock:
            txn = producer._transaction_producers.get(tid)
            if txn is None:
                raise PartitionRevokedError(f"transaction {tid} was stopped (partition revoked)")
            yield Section(self, txn, topic, partition)

    def done(self, topic: str, partition: int, offset: int) -> None:
        """The record at ``offset`` is fully handled: its offset may be committed with the next commit."""
        key = (topic, partition)
        if offset + 1 > self._pending.get(key, -1):
            self._pending[key] = offset + 1
        self._registered += 1

    # -- the commit loop -----------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.commit()

    async def commit(self) -> None:
        if self.broken is not None:
            return
        if not self._pending:
            self.last_commit_at = time.monotonic()
            return
        if self.exactly_once:
            await self._commit_transactions()
        else:
            await self._commit_offsets()
        self.last_commit_at = time.monotonic()

    async def _commit_offsets(self) -> None:
        async with self._alo_lock:
            offsets, self._pending = self._pending, {}
            await self.app.producer.flush()  # every send of these events is on the broker
            from faust.types import TP

            ok = await self.app.consumer._commit({TP(t, p): o for (t, p), o in offsets.items()})
            if not ok:
                log.warning("offset commit failed (rebalance?): %s records will be redelivered", len(offsets))

    async def _commit_transactions(self) -> None:
        producer = self.app.producer
        by_tid: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for key in list(self._pending):
            try:
                by_tid[self._tid(*key)].append(key)
            except KeyError:  # topic no longer assigned to us
                self._pending.pop(key, None)
        for tid, keys in by_tid.items():
            lock = producer._trn_locks.get(tid)
            if lock is None:
                for k in keys:
                    self._pending.pop(k, None)
                continue
            async with lock:
                offsets = {
                    TopicPartition(t, p): self._pending.pop((t, p))
                    for t, p in keys
                    if (t, p) in self._pending
                }
                txn = producer._transaction_producers.get(tid)
                if txn is None or not offsets:
                    continue  # revoked: the transaction is aborted, the new owner reprocesses
                await txn.send_offsets_to_transaction(offsets, self.app.conf.id)
                await txn.commit_transaction()
                await txn.begin_transaction()


class PartitionRevokedError(RuntimeError):
    """The source partition is no longer this worker's: leave the record to its new owner."""


class Section:
    """Sends of one source record: into its partition's transaction (exactly-once) or the app producer."""

    def __init__(self, committer: Committer, txn: Any, topic: str, partition: int) -> None:
        self.committer = committer
        self.txn = txn
        self.topic = topic
        self.partition = partition

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        if self.txn is not None:
            await self.txn.send(topic, value, key=key, headers=headers)
        else:
            await self.committer.app.producer.send(topic, key, value, None, None, headers)

    def done(self, offset: int) -> None:
        self.committer.done(self.topic, self.partition, offset)
