"""Offsets are committed here, never by faust's ack bookkeeping: a source offset is committed only with
everything its processing produced.

Why not faust's own commits: faust snapshots acked offsets *before* it takes a partition's transaction
lock, so a commit can carry sends of an event whose offset it does not commit; after a crash that event
is processed again and its outputs appear twice, even under exactly-once. Here an event's sends and the
registration of its offset happen inside one critical section per transaction (``section``), and the
commit takes the same lock, so a transaction always holds whole events.

Sends are fire-and-forget: ``Section.send`` queues the message in the producer (which batches by
``linger``) and keeps its delivery future; nothing waits for the broker per record. Every commit first
waits for the futures of the sends made so far; a failed delivery stops the worker without committing.
Audit rows are not one message each: ``Section.audit`` sends one ``AuditBatch`` per record under
at-least-once (ahead of the record's outputs), and under exactly-once adds the rows to a
per-source-partition batch that goes into the transaction when it is big enough or at the commit.

* at-least-once: sends go through the app's producer; a commit sends the pending audit batches, waits
  for every delivery, then commits the offsets through the consumer group.
* exactly-once: sends go into the transaction of the *source* partition (faust starts one transactional
  producer per assigned partition group); a commit sends that transaction's audit batches, adds the
  offsets to the transaction and commits it. So one transaction covers all records of a commit interval.

Rebalance: when partitions are revoked, the records in hand are finished and everything handled so far
is committed (and the audit sink's stored rows with it; under exactly-once the commit waits until the group
coordinator shows the new offsets), so the next owner does not redo them. A record that reaches its sends
after that is left to the next owner, and a record that faust delivers twice around a rebalance (fetched
before it, then again after the seek to the committed offset) is handled once (``stale``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiokafka.structs import TopicPartition

from sinks.audit_model import AuditRow
from streams.kafka.codec import AuditBatchBuilder, WireCodec

log = logging.getLogger(__name__)

Key = tuple[str, int]  # (topic, partition) of a source record
AUDIT_MESSAGE_BYTES = 256 * 1024  # an AuditBatch is cut here, well below the broker's 1 MB message limit


class DeliveryError(RuntimeError):
    """A send was not acknowledged by the broker: the records that made it must not be committed."""


class PartitionRevokedError(RuntimeError):
    """The source partition is no longer this worker's: leave the record to its new owner."""


class Committer:
    def __init__(
        self,
        app: Any,
        exactly_once: bool,
        interval_s: float = 1.0,
        *,
        codec: WireCodec | None = None,
        audit_topic: str | None = None,
        idle: Callable[[], bool] = lambda: True,
        revoke_timeout_s: float = 5.0,
    ) -> None:
        self.app = app
        self.exactly_once = exactly_once
        self.interval_s = interval_s
        self.codec = codec
        self.audit_topic = audit_topic
        self.idle = idle  # True when no record is being handled (checked before a revoke commit)
        self.revoke_timeout_s = revoke_timeout_s
        self.before_revoke_commit: list[Callable[[], Awaitable[None]]] = []  # e.g. store the audit sink
        self._pending: dict[Key, int] = {}  # next offset to consume, per source partition
        self._audit: dict[Key, AuditBatchBuilder] = {}  # rows of handled records not yet sent
        self._futures: dict[str | None, list[asyncio.Future[Any]]] = defaultdict(list)  # per tid / None
        self._commit_lock = asyncio.Lock()  # the commit loop, a drain and a revocation may all commit
        self.generation = 0  # bumped at each revocation; sections of an older one register nothing
        self.last_commit_at = time.monotonic()
        self.handled: Counter[Key] = Counter()  # records registered per source partition (for logs)
        self._seen: dict[Key, tuple[int, set[int]]] = {}  # (consumer generation, offsets registered in it)
        self._floor: dict[Key, int] = {}  # offsets below this were committed by this worker
        self.broken: BaseException | None = None  # set when a record was half handled: never commit again
        app.on_partitions_revoked.connect(self._on_partitions_revoked)

    # -- inside an agent -----------------------------------------------------------------------------------
    def _tid(self, topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[Section]:
        """Sends of one source record, atomic with respect to commits of its partition's transaction."""
        if not self.exactly_once:
            yield Section(self, None, None, topic, partition)
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
            yield Section(self, txn, tid, topic, partition)

    def done(self, topic: str, partition: int, offset: int) -> None:
        """The record at ``offset`` is fully handled: its offset may be committed with the next commit."""
        key = (topic, partition)
        if offset + 1 > self._pending.get(key, -1):
            self._pending[key] = offset + 1
        self.handled[key] += 1
        generation = self.app.consumer_generation_id
        seen = self._seen.get(key)
        if seen is None or seen[0] != generation:
            seen = self._seen[key] = (generation, set())
        seen[1].add(offset)

    def stale(self, msg: Any) -> bool:
        """A record delivered again that must not be handled twice. Around a rebalance faust delivers
        some records twice: one fetched before it that slipped through to an agent, then the same offset
        again after the seek to the committed offset. Skipped: an offset this worker committed already,
        or one it handled in the current consumer generation (its sends and registration are in place).
        Nothing else is skipped: a record is never dropped on a guess, since faust may not fetch it again.
        """
        key = (msg.topic, msg.partition)
        if msg.offset < self._floor.get(key, -1):
            return True
        seen = self._seen.get(key)
        return seen is not None and seen[0] == self.app.consumer_generation_id and msg.offset in seen[1]

    def _committed(self, offsets: dict[Key, int]) -> None:
        """After a commit: remember the floor, forget the handled offsets below it."""
        for key, offset in offsets.items():
            self._floor[key] = max(offset, self._floor.get(key, -1))
            seen = self._seen.get(key)
            if seen is not None:
                seen[1].difference_update([o for o in seen[1] if o < offset])

    def track(self, tid: str | None, future: asyncio.Future[Any]) -> None:
        self._futures[tid].append(future)

    def _audit_key(self, key: Key) -> bytes:
        return f"{key[0]}:{key[1]}".encode()

    # -- the commit ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.commit()

    async def commit(self, stable: bool = False) -> None:
        """Commit what was handled. ``stable``: also wait until the group coordinator returns the new
        offsets (before partitions move: the next owner must start after them, see ``_wait_stable``)."""
        if self.broken is not None:
            return
        if not self._pending:
            self.last_commit_at = time.monotonic()
            return
        try:
            async with self._commit_lock:
                if self.exactly_once:
                    committed = await self._commit_transactions()
                    if stable:
                        await self._wait_stable(committed)
                else:
                    await self._commit_offsets()
        except DeliveryError as exc:
            self.broken = exc
            log.error("%s; stopping the worker without committing", exc)
            await self.app.crash(exc)
            return
        self.last_commit_at = time.monotonic()

    async def _wait_stable(self, offsets: dict[TopicPartition, int], timeout_s: float = 5.0) -> None:
        """A transaction's offsets reach the group only when its commit markers are written, after
        ``commit_transaction`` returned; until then an OffsetFetch (aiokafka sends no require_stable)
        answers the previous offsets, and a worker that takes the partitions over right now would redo
        records whose outputs are committed. So before a rebalance goes on: wait until they are visible."""
        if not offsets:
            return
        thread = self.app.consumer._thread

        async def fetch(tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
            consumer = thread._ensure_consumer()
            return {tp: await consumer.committed(tp) for tp in tps}

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = list(offsets)
        while waiting:
            got = await thread.call_thread(fetch, waiting)
            waiting = [tp for tp in waiting if (got.get(tp) or -1) < offsets[tp]]
            if not waiting:
                return
            if loop.time() > deadline:
                log.warning("committed offsets not visible after %.0fs: %s", timeout_s, waiting)
                return
            await asyncio.sleep(0.02)

    async def _delivered(self, futures: list[asyncio.Future[Any]]) -> None:
        """Wait for each send's acknowledgement (already done ones cost nothing); raise on a failed one."""
        for future in futures:
            try:
                await future
            except Exception as exc:
                raise DeliveryError(f"a send was not delivered: {type(exc).__name__}: {exc}") from exc

    async def _commit_offsets(self) -> None:
        # one snapshot without an await in between: every record whose offset is taken here has its
        # sends' futures in ``futures`` and its audit rows in ``audit``
        offsets, self._pending = self._pending, {}
        audit, self._audit = self._audit, {}
        futures = self._futures.pop(None, [])
        producer = self.app.producer._ensure_producer()
        for key, batch in audit.items():
            if len(batch):
                futures.append(await producer.send(self.audit_topic, batch.take(), key=self._audit_key(key)))
        await self._delivered(futures)
        from faust.types import TP

        ok = await self.app.consumer._commit({TP(t, p): o for (t, p), o in offsets.items()})
        if not ok:
            log.warning("offset commit failed (rebalance?): %s partitions will be redelivered", len(offsets))
        else:
            self._committed(offsets)

    async def _commit_transactions(self) -> dict[TopicPartition, int]:
        producer = self.app.producer
        committed: dict[TopicPartition, int] = {}
        by_tid: dict[str, list[Key]] = defaultdict(list)
        for key in list(self._pending):
            try:
                by_tid[self._tid(*key)].append(key)
            except KeyError:  # topic no longer assigned to us
                self._drop([key])
        for tid, keys in by_tid.items():
            lock = producer._trn_locks.get(tid)
            if lock is None:
                self._drop(keys)
                continue
            async with lock:
                offsets = {
                    TopicPartition(t, p): self._pending.pop((t, p))
                    for t, p in keys
                    if (t, p) in self._pending
                }
                txn = producer._transaction_producers.get(tid)
                if txn is None:
                    self._drop(keys)
                    continue  # revoked: the transaction is aborted, the new owner reprocesses
                if not offsets:
                    continue
                futures = self._futures.pop(tid, [])
                for key in keys:
                    batch = self._audit.pop(key, None)
                    if batch is not None and len(batch):
                        futures.append(
                            await txn.send(self.audit_topic, batch.take(), key=self._audit_key(key))
                        )
                await self._delivered(futures)
                await txn.send_offsets_to_transaction(offsets, self.app.conf.id)
                await txn.commit_transaction()
                await txn.begin_transaction()
                committed.update(offsets)
                self._committed({(tp.topic, tp.partition): o for tp, o in offsets.items()})
        return committed

    def _drop(self, keys: list[Key]) -> None:
        """Forget what was handled from partitions that are not ours any more (their owner redoes it)."""
        for key in keys:
            self._pending.pop(key, None)
            self._audit.pop(key, None)
            if self.exactly_once:
                with contextlib.suppress(KeyError):
                    self._futures.pop(self._tid(*key), None)

    # -- rebalance -----------------------------------------------------------------------------------------
    async def _on_partitions_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """faust's on_partitions_revoked signal: the consumer still owns ``revoked`` (its fetching is
        stopped), so what was handled can be committed now instead of being redone by the next owner."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.revoke_timeout_s
        while not self.idle() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for hook in self.before_revoke_commit:
            try:
                await asyncio.wait_for(hook(), max(0.1, deadline - loop.time()))
            except Exception as exc:  # not stored = not committed: the next owner redelivers them
                log.warning("before the revoke commit: %s: %s", type(exc).__name__, exc)
        pending = dict(self._pending)
        await self.commit(stable=True)
        # a record still in hand registers nothing (its sends went out; if its partition stays here a
        # later record commits past it, else the next owner redoes it); never skip one on a guess
        self.generation += 1
        gone = {(tp.topic, tp.partition) for tp in revoked}
        self._drop([k for k in list(self._pending) + list(self._audit) if k in gone])
        log.info(
            "partitions revoked (idle %s): committed %s",
            self.idle(),
            ", ".join(f"{t}[{p}]@{o}" for (t, p), o in sorted(pending.items())) or "nothing pending",
        )

    def summary(self) -> str:
        parts = ", ".join(f"{t}[{p}] {n}" for (t, p), n in sorted(self.handled.items()))
        return f"handled {sum(self.handled.values())} records: {parts or 'none'}"


class Section:
    """Sends of one source record: into its partition's transaction (exactly-once) or the app producer."""

    def __init__(self, committer: Committer, txn: Any, tid: str | None, topic: str, partition: int) -> None:
        self.committer = committer
        self.txn = txn
        self.tid = tid
        self.topic = topic
        self.partition = partition
        self.generation = committer.generation

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue a message (not waiting for the broker); the next commit waits for its delivery."""
        producer = self.txn if self.txn is not None else self.committer.app.producer._ensure_producer()
        future = await producer.send(topic, value, key=key, headers=headers)
        self.committer.track(self.tid, future)

    async def audit(self, rows: list[AuditRow], now: bool = False) -> None:
        """The record's audit rows, sent with other records' rows in one AuditBatch before the commit.

        Under at-least-once (and with ``now=True``) they go at once, in their own message: call this
        *before* the record's other sends, so a crash cannot deliver an output (or a table's changelog
        state) without the rows that audit it; a redelivered record then shows up in ``audit verify`` as
        a duplicate. Under exactly-once the batch and the outputs are one transaction anyway.
        """
        c = self.committer
        if not rows or self.generation != c.generation:
            return
        if c.codec is None or c.audit_topic is None:
            raise RuntimeError("Committer built without codec/audit_topic cannot send audit rows")
        key = (self.topic, self.partition)
        if now or not c.exactly_once:
            await self.send(c.audit_topic, c._audit_key(key), c.codec.encode_rows(rows))
            return
        batch = c._audit.get(key)
        if batch is None:
            batch = c._audit[key] = AuditBatchBuilder(c.codec)
        batch.add(rows)
        if batch.size >= AUDIT_MESSAGE_BYTES:
            await self.send(c.audit_topic, c._audit_key(key), batch.take())

    def done(self, offset: int) -> None:
        if self.generation == self.committer.generation:
            self.committer.done(self.topic, self.partition, offset)
        else:
            log.info(
                "%s[%d]@%d handled across a rebalance: left to the next owner",
                self.topic,
                self.partition,
                offset,
            )
