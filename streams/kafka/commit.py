"""Offsets are committed here, never by faust's ack bookkeeping: a source offset is committed only with
everything its processing produced, and only through offsets that were handled (``frontier.py``).

Why not faust's own commits: faust snapshots acked offsets *before* it takes a partition's transaction
lock, so a commit can carry sends of an event whose offset it does not commit; after a crash that event
is processed again and its outputs appear twice, even under exactly-once. Here an event's sends and the
registration of its offset happen inside one critical section per transaction (``section``), and the
commit takes the same lock, so a transaction always holds whole events.

Why a frontier and not the highest offset handled: faust can drop a record fetched around a rebalance
while later records of its partition still arrive. The commit point of a partition is the lowest offset
not accounted for; a gap below handled offsets is resolved at the commit, against the broker's own view
(``broker_view.py``): offsets without a record (transaction markers, aborted records) are accounted for,
and a real record that was never handled is handled from the broker's copy, the way its agent would
(``redeliver``; if faust delivers it after all, it is skipped as ``stale``).

Sends are fire-and-forget: ``Section.send`` queues the message in the producer (which batches by
``linger``) and keeps its delivery future; nothing waits for the broker per record. Every commit first
waits for the futures of the sends made so far; a failed delivery stops the worker without committing.
Audit rows are not one message each: ``Section.audit`` sends one ``AuditBatch`` per record under
at-least-once, and the record's other sends leave only once that batch is acknowledged (a crash can never
deliver an output without the rows that audit it); under exactly-once it adds the rows to a
per-source-partition batch that goes into the transaction when it is big enough or at the commit.

* at-least-once: sends go through the app's producer; a commit sends the pending audit batches, waits
  for every delivery, then commits the frontier offsets through the consumer group.
* exactly-once: sends go into the transaction of the *source* partition (faust starts one transactional
  producer per assigned partition group); a commit sends that transaction's audit batches, adds the
  offsets to the transaction and commits it. So one transaction covers all records of a commit interval.
  A transaction holding records above a gap that is being healed waits for the next commit.

Rebalance: when partitions are revoked, the records in hand are finished and everything handled so far
is committed (and the audit sink's stored rows with it; under exactly-once the commit waits until the group
coordinator shows the new offsets), so the next owner does not redo them. A gap that cannot be healed in
time (the consumer is paused) is committed up to under at-least-once; under exactly-once its transaction is
aborted and its partitions are redone from their committed offsets. A record that reaches its sends after
the revocation sends nothing and is left to the next owner (or to this worker again). What this worker
handled stays known while a partition stays with it, so a redelivery after the rebalance is skipped.

Stopping (SIGTERM) during a rebalance: the drain waits for a commit in flight and for a revocation handler
that runs (its commit goes through the consumer thread, which must not stop under it), then commits the
rest; a revocation's commit that the thread cancels anyway leaves its offsets uncommitted (redelivered).
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

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.kafka.agent_loop import AgentRegistry, PartitionRevokedError
from dana_workflows.streams.kafka.batch_send import send_batches
from dana_workflows.streams.kafka.broker_view import BrokerView
from dana_workflows.streams.kafka.frontier import Frontier, Key
from dana_workflows.streams.kafka.wire import AuditBatchBuilder, WireCodec

log = logging.getLogger(__name__)

AUDIT_MESSAGE_BYTES = 256 * 1024  # an AuditBatch is cut here, well below the broker's 1 MB message limit


class AlreadyBegunFilter(logging.Filter):
    """Drops faust's warning that a transaction it begins after a rebalance is begun already.

    Every commit here (the revocation's too) begins the partition group's next transaction at once, so
    that a record handled right after it has a transaction to send into (``_commit_transactions``). faust
    then begins the transactions of the partitions it kept, finds them begun, and logs a WARNING per
    group and rebalance ("Exception in begin_transaction ... IN_TRANSACTION -> IN_TRANSACTION") that says
    nothing is wrong. Any other exception in faust's begin_transaction is still logged."""

    ALREADY_BEGUN = "TransactionState.IN_TRANSACTION -> TransactionState.IN_TRANSACTION"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Exception in begin_transaction") and self.ALREADY_BEGUN in message)


FAUST_PRODUCER_LOG = "faust.transport.drivers.aiokafka"


def quiet_already_begun() -> None:
    """Install the filter once on faust's producer logger (idempotent)."""
    logger = logging.getLogger(FAUST_PRODUCER_LOG)
    if not any(isinstance(f, AlreadyBegunFilter) for f in logger.filters):
        logger.addFilter(AlreadyBegunFilter())


class DeliveryError(RuntimeError):
    """A send was not acknowledged by the broker: the records that made it must not be committed."""


class Committer:
    def __init__(
        self,
        app: Any,
        exactly_once: bool,
        interval_s: float = 1.0,
        *,
        view: BrokerView,
        agents: AgentRegistry,
        codec: WireCodec | None = None,
        audit_topic: str | None = None,
        revoke_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.exactly_once = exactly_once
        self.interval_s = interval_s
        self.view = view
        self.codec = codec
        self.audit_topic = audit_topic
        self.state = agents.state  # idle when no record is being handled (checked before a revoke commit)
        self.revoke_timeout_s = revoke_timeout_s
        self.before_revoke_commit: list[Callable[[], Awaitable[None]]] = []  # e.g. store the audit sink
        self.frontier = Frontier()
        self._touched: set[Key] = set()  # partitions with offsets handled (or a gap) since their last commit
        self._audit: dict[Key, AuditBatchBuilder] = {}  # rows of handled records not yet sent
        self._futures: dict[str | None, list[asyncio.Future[Any]]] = defaultdict(list)  # per tid / None
        self._missing: dict[Key, set[int]] = {}  # never-handled records found at the last commit
        self._commit_lock = asyncio.Lock()  # the commit loop, a drain and a revocation may all commit
        self.generation = 0  # bumped at each revocation; sections of an older one send and register nothing
        self._revoking = 0  # revocation handlers running (a drain waits for them: ``revocations_done``)
        self._no_revocation = asyncio.Event()
        self._no_revocation.set()
        self.clock = clock  # when the last commit happened (the watchdog compares it with its own clock)
        self.last_commit_at = clock()
        self.handled: Counter[Key] = Counter()  # records registered per source partition (for logs)
        self.healed: Counter[Key] = Counter()  # records handled from the broker's copy (faust dropped them)
        # handles a record the way its agent does; used for records faust dropped
        self.redeliver: Callable[[Any], Awaitable[None]] = agents.redeliver
        self._redelivered: dict[Key, set[int]] = {}  # records handed back, per partition
        self._handing_back: set[asyncio.Future[None]] = set()
        # records each source topic's agent has taken so far: an agent that took none since the previous
        # commit while offsets wait past the frontier is checked for a dropped one
        self.taken: Callable[[str], int] = agents.taken
        self._taken_before: dict[str, int] = {}
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_partitions_assigned.connect(self._on_partitions_assigned)
        if exactly_once:
            quiet_already_begun()

    @property
    def broken(self) -> BaseException | None:
        """Set when a record was half handled or a delivery failed: never commit again."""
        return self.state.crashed

    @broken.setter
    def broken(self, exc: BaseException | None) -> None:
        self.state.crashed = exc

    # -- inside an agent -----------------------------------------------------------------------------------
    def _tid(self, topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[Section]:
        """Sends of one source record, atomic with respect to commits of its partition's transaction."""
        if not self.exactly_once:
            section = Section(self, None, None, topic, partition)
            yield section
            section.flush()
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
        """The record at ``offset`` is fully handled: the next commit may move past it."""
        key = (topic, partition)
        self.frontier.handled(key, offset)
        self._touched.add(key)
        self.handled[key] += 1

    def stale(self, msg: Any) -> bool:
        """A record delivered again that must not be handled twice: around a rebalance (one fetched before
        it, then the same offset after the seek to the committed offset) or after a dropped record was
        handled from the broker's copy and faust delivers it after all.
        Skipped: offsets this worker committed or handled while the partition stayed with it."""
        return self.frontier.is_handled((msg.topic, msg.partition), msg.offset)

    @property
    def pending(self) -> bool:
        """Records were handled (or a gap waits) that are not committed yet."""
        return bool(self._touched)

    def track(self, tid: str | None, future: asyncio.Future[Any]) -> None:
        self._futures[tid].append(future)

    def _audit_key(self, key: Key) -> bytes:
        return f"{key[0]}:{key[1]}".encode()

    # -- the commit ----------------------------------------------------------------------------------------
    async def commit(self, stable: bool = False, revoking: bool = False) -> None:
        """Commit what was handled. ``stable``: also wait until the group coordinator returns the new
        offsets (before partitions move: the next owner must start after them, see ``_wait_stable``).
        ``revoking``: the consumer is paused, a gap cannot be healed now (see the module docstring)."""
        if self.broken is not None:
            return
        try:
            async with self._commit_lock:
                # checked under the lock: a commit in flight has taken the offsets out of ``_touched``
                # already, and a drain or a revocation that returned before it ended would let the
                # consumer stop (or the partitions go) while it is still under way
                if not self._touched and revoking:
                    self.last_commit_at = self.clock()
                    return
                await self._settle(heal=not revoking)
                if self.exactly_once:
                    committed = await self._commit_transactions(revoking)
                    if stable:
                        await self._wait_stable(committed)
                else:
                    await self._commit_offsets()
        except DeliveryError as exc:
            self.broken = exc
            log.error("%s; stopping the worker without committing", exc)
            await self.app.crash(exc)
            return
        self.last_commit_at = self.clock()

    async def _settle(self, heal: bool) -> None:
        """Anchor new partitions at their start and resolve gaps against the broker's view."""
        unanchored = [k for k in self.frontier.unanchored() if k in self._touched]
        if unanchored:
            for key, start in (await self.view.starts(unanchored)).items():
                self.frontier.anchor(key, start)
        gaps = {k: (g.start, g.last_handled) for k, g in self.frontier.gaps().items()}
        ranges = dict(gaps)
        if heal:
            ranges.update(await self._idle_tails(ranges))
        if not ranges:
            self._missing.clear()
            return
        try:
            scanned = await self.view.scan(ranges)
        except Exception as exc:  # the gap stays; the commit stops below it and the next one retries
            log.warning(
                "could not read the broker's view of %s: %s: %s", sorted(ranges), type(exc).__name__, exc
            )
            return
        missing: dict[Key, list[Any]] = {}
        for key, (reached, records) in scanned.items():
            never = self.frontier.scanned(key, ranges[key][0], reached, records)
            if self.frontier.commit_point(key) is not None:
                self._touched.add(key)  # e.g. a marker after the last record: commit past it
            if never:
                # below a handled offset every never-handled record of the range was dropped (a run of
                # them after a seek, too): all of them; past the frontier of an idle agent, the first
                missing[key] = [records[o] for o in (never if key in gaps else never[:1])]
        previous, self._missing = self._missing, {k: {r.offset for r in rs} for k, rs in missing.items()}
        for key, recs in missing.items():
            # a record handled above it came later in the same partition, so this one is not on its way;
            # still, act only on records that were missing at the previous commit too (an audit batch
            # may be stored a moment after the next one)
            if heal:
                for record in recs:
                    if record.offset in previous.get(key, ()):
                        await self._redeliver(key, record)

    async def _idle_tails(self, gaps: dict[Key, tuple[int, int]]) -> dict[Key, tuple[int, int]]:
        """Partitions whose agent took no record since the previous commit while the consumer has fetched
        past the frontier: a dropped *last* record has no later one to reveal its gap, and under
        exactly-once the marker after the last record is accounted for here. Only offsets the consumer
        fetched count: records it never fetched (a stalled fetcher) are the watchdog's to report."""
        taken = {topic: self.taken(topic) for topic in {k[0] for k in self.frontier.partitions()}}
        before, self._taken_before = self._taken_before, taken
        if not self.app.flow_control.is_active():  # a rebalance is under way: nothing is delivered now
            return {}
        idle = {
            k: base
            for k, base in self.frontier.bases().items()
            if k not in gaps and before.get(k[0]) == taken[k[0]]
        }
        if not idle:
            return {}
        from faust.types import TP

        tails: dict[Key, tuple[int, int]] = {}
        for key, base in idle.items():
            try:
                position = await self.app.consumer.position(TP(*key))
            except Exception:  # not assigned any more
                continue
            if position is not None and position > base:
                tails[key] = (base, position - 1)
        return tails

    async def _redeliver(self, key: Key, record: Any) -> None:
        """Handle a record that faust dropped, from the broker's copy (a seek back races with the records
        faust has fetched already, which move its read offset past the sought one again)."""
        handed = self._redelivered.setdefault(key, set())
        if record.offset in handed:
            return  # handed back already: the audit sink registers it only once its batch is stored
        handed.add(record.offset)
        log.warning(
            "%s[%d]@%d is waiting unhandled (dropped by faust, or its agent is still on it): "
            "handling it from the broker's copy",
            key[0],
            key[1],
            record.offset,
        )
        self.healed[key] += 1
        # not awaited: the record may be in its agent's hands right now (slow, not dropped); the agent's
        # lock and the second-delivery check make sure it is handled once either way
        task = asyncio.ensure_future(self.redeliver(record))
        self._handing_back.add(task)
        task.add_done_callback(self._handing_back.discard)

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
        # one snapshot without an await in between: every record below a commit point has its sends'
        # futures in ``futures`` (a section tracks them before it registers the offset)
        offsets: dict[Key, int] = {}
        for key in list(self._touched):
            point = self.frontier.commit_point(key)
            if point is not None:
                offsets[key] = point
            if self.frontier.settled(key):
                self._touched.discard(key)
        futures = self._futures.pop(None, [])
        await self._delivered(futures)
        if not offsets:
            return
        from faust.types import TP

        try:
            ok = await self.app.consumer._commit({TP(t, p): o for (t, p), o in offsets.items()})
        except BaseException:  # e.g. cancelled by the consumer's stop: not committed, still pending
            self._touched.update(offsets)
            raise
        if not ok:
            self._touched.update(offsets)
            log.warning("offset commit failed (rebalance?): %s partitions will be redelivered", len(offsets))
            return
        for key, offset in offsets.items():
            self.frontier.committed(key, offset)

    async def _commit_transactions(self, revoking: bool) -> dict[TopicPartition, int]:
        producer = self.app.producer
        committed: dict[TopicPartition, int] = {}
        by_tid: dict[str, list[Key]] = defaultdict(list)
        for key in list(self._touched):
            try:
                by_tid[self._tid(*key)].append(key)
            except KeyError:  # topic no longer assigned to us
                self._void(None, [key])
        for tid, keys in by_tid.items():
            lock = producer._trn_locks.get(tid)
            if lock is None:
                self._void(tid, keys)
                continue
            async with lock:
                txn = producer._transaction_producers.get(tid)
                if txn is None:
                    self._void(tid, keys)  # revoked: the transaction is aborted, the new owner redoes it
                    continue
                if any(not self.frontier.settled(k) for k in keys):
                    if not revoking:
                        continue  # holds records above a gap being healed: the next commit takes it
                    log.warning(
                        "aborting transaction %s: a gap in %s could not be healed before the "
                        "rebalance; its records are redone from the committed offsets",
                        tid,
                        keys,
                    )
                    self._futures.pop(tid, None)
                    await txn.abort_transaction()
                    await txn.begin_transaction()
                    self._void(tid, keys)
                    continue
                offsets = {
                    TopicPartition(t, p): point
                    for t, p in keys
                    if (point := self.frontier.commit_point((t, p))) is not None
                }
                futures = self._futures.pop(tid, [])
                for key in keys:
                    batch = self._audit.pop(key, None)
                    if batch is not None and len(batch):
                        futures.append(
                            await txn.send(self.audit_topic, batch.take(), key=self._audit_key(key))
                        )
                await self._delivered(futures)
                if offsets:
                    await txn.send_offsets_to_transaction(offsets, self.app.conf.id)
                await txn.commit_transaction()
                await txn.begin_transaction()
                committed.update(offsets)
                for key in keys:
                    self._touched.discard(key)
                for tp, offset in offsets.items():
                    self.frontier.committed((tp.topic, tp.partition), offset)
        return committed

    def _void(self, tid: str | None, keys: list[Key]) -> None:
        """What was handled from ``keys`` since their last commit is void (its transaction is gone or
        aborted): forget it, so that these offsets are handled again when they are delivered again."""
        for key in keys:
            self._audit.pop(key, None)
            self._touched.discard(key)
            self.frontier.rewind(key)
        if tid is not None:
            self._futures.pop(tid, None)

    # -- rebalance -----------------------------------------------------------------------------------------
    async def _on_partitions_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """faust's on_partitions_revoked signal: the consumer still owns ``revoked`` (its fetching is
        stopped), so what was handled can be committed now instead of being redone by the next owner.

        It runs inside the consumer thread's rebalance callback (aiokafka's coordinator waits for it), and its
        commit goes back through that thread: the consumer must not be stopped while it runs (a drain waits
        for it, ``revocations_done``), and if the thread cancels the commit anyway it returns (see
        ``_commit_on_revoke``)."""
        self._revoking += 1
        self._no_revocation.clear()
        try:
            await self._revoke()
        finally:
            self._revoking -= 1
            if not self._revoking:
                self._no_revocation.set()

    async def revocations_done(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until no revocation handler runs; False if one still does."""
        if self._no_revocation.is_set():
            return True
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for returns the inner result when the event
        # and a cancellation of this task come in one loop turn, and a cancelled drain would go on to commit
        try:
            async with asyncio.timeout(timeout_s):
                await self._no_revocation.wait()
        except TimeoutError:
            return False
        return True

    async def _revoke(self) -> None:
        self.state.rebalances += 1  # records an agent took but has not begun to handle are left (agent_loop)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.revoke_timeout_s
        while not self.state.idle() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for hook in self.before_revoke_commit:
            try:
                await asyncio.wait_for(hook(), max(0.1, deadline - loop.time()))
            except Exception as exc:  # not stored = not committed: the next owner redelivers them
                log.warning("before the revoke commit: %s: %s", type(exc).__name__, exc)
        touched = sorted(self._touched)
        await self._commit_on_revoke()
        # a record still in hand sends and registers nothing from here on: it is delivered again
        self.generation += 1
        log.info(
            "partitions revoked (idle %s): committed %s",
            self.state.idle(),
            ", ".join(f"{t}[{p}]@{self.frontier.commit_floor((t, p))}" for t, p in touched)
            or "nothing pending",
        )

    async def _commit_on_revoke(self) -> None:
        """The revocation's commit. When the consumer thread stops while the commit's call waits in it,
        the thread cancels that call and the CancelledError arrives here as the call's *result*, while this
        task itself was not cancelled (``cancelling()`` is 0). Raised on, it would go back into aiokafka's
        coordinator, which lets only ``Exception`` from a listener pass: the coordinator's task ends
        cancelled, the consumer's stop raises, and mode never sets the thread's shutdown event, so faust's
        stop waited 60 s for it (docs/kafka-runtime.md, "Stopping during a rebalance"). Nothing was
        committed: the next owner redelivers from the committed offsets. A cancellation of this task itself
        still propagates."""
        try:
            await self.commit(stable=True, revoking=True)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            log.warning(
                "the revocation's commit was cancelled by the consumer's stop: what it held is redelivered"
            )

    async def _on_partitions_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        """Keep what is known of partitions that stayed here; forget the others (their owner moves on)."""
        keys = {(tp.topic, tp.partition) for tp in assigned}
        self.frontier.keep_only(keys)
        self._redelivered.clear()  # after a rebalance a record may need handing back again
        for mapping in (self._audit, self._missing):
            for key in [k for k in mapping if k not in keys]:
                del mapping[key]
        self._touched &= keys

    def summary(self) -> str:
        parts = ", ".join(f"{t}[{p}] {n}" for (t, p), n in sorted(self.handled.items()))
        healed = f"; {sum(self.healed.values())} dropped records handled again" if self.healed else ""
        return f"handled {sum(self.handled.values())} records: {parts or 'none'}{healed}"


class Section:
    """Sends of one source record: into its partition's transaction (exactly-once) or the app producer."""

    def __init__(self, committer: Committer, txn: Any, tid: str | None, topic: str, partition: int) -> None:
        self.committer = committer
        self.txn = txn
        self.tid = tid
        self.topic = topic
        self.partition = partition
        self.generation = committer.generation
        self._after: asyncio.Future[Any] | None = None  # the record's audit batch, once sent (at-least-once)
        self._deferred: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]] = []

    @property
    def current(self) -> bool:
        """False once a revocation happened since the section began: it sends and registers nothing."""
        return self.generation == self.committer.generation

    def _producer(self) -> Any:
        return self.txn if self.txn is not None else self.committer.app.producer._ensure_producer()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue a message (not waiting for the broker); the next commit waits for its delivery."""
        if not self.current:
            return
        if self._after is not None:  # leaves once the record's audit rows are acknowledged
            self._deferred.append((topic, key, value, headers))
            return
        future = await self._producer().send(topic, value, key=key, headers=headers)
        self.committer.track(self.tid, future)

    async def audit(self, rows: list[AuditRow], now: bool = False) -> None:
        """The record's audit rows. Call this *before* the record's other sends.

        Under at-least-once (and with ``now=True``) they go at once, in their own message, and the other
        sends wait until it is acknowledged: a crash cannot deliver an output (or a table's changelog
        state) without the rows that audit it, and a redelivered record shows up in ``audit verify`` as a
        duplicate. Under exactly-once the rows join the partition's batch, in the same transaction.
        """
        c = self.committer
        if not rows or not self.current:
            return
        if c.codec is None or c.audit_topic is None:
            raise RuntimeError("Committer built without codec/audit_topic cannot send audit rows")
        key = (self.topic, self.partition)
        if now or not c.exactly_once:
            # a batch of records can carry more rows than a message may: cut at AUDIT_MESSAGE_BYTES
            messages = c.codec.audit_messages(rows, AUDIT_MESSAGE_BYTES)
            if self.txn is None:
                # the outputs wait for this ack: it goes at once, not after the producer's linger
                audit_key = c._audit_key(key)
                futures = await send_batches(
                    self._producer(), [(c.audit_topic, audit_key, m, None) for m in messages]
                )
                for future in futures:
                    c.track(self.tid, future)
                self._after = futures[0] if len(futures) == 1 else asyncio.gather(*futures)
                return
            for message in messages:
                c.track(self.tid, await self.txn.send(c.audit_topic, message, key=c._audit_key(key)))
            return
        batch = c._audit.get(key)
        if batch is None:
            batch = c._audit[key] = AuditBatchBuilder(c.codec)
        for message in batch.extend(rows, AUDIT_MESSAGE_BYTES):  # the one home of the cut rule (wire.py)
            await self.send(c.audit_topic, c._audit_key(key), message)

    def flush(self) -> None:
        """Hand the sends waiting for the audit batch to a task the next commit waits for."""
        if not self.current:
            self._deferred.clear()
            return
        if self._deferred and self._after is not None:
            messages, self._deferred = self._deferred, []
            task = asyncio.ensure_future(_send_after(self._after, self._producer(), messages))
            self.committer.track(self.tid, task)

    def done(self, offset: int) -> None:
        if not self.current:
            log.info(
                "%s[%d]@%d handled across a rebalance: nothing sent, it is delivered again",
                self.topic,
                self.partition,
                offset,
            )
            self._deferred.clear()
            return
        self.flush()  # tracked before the offset is registered: a commit past it waits for these sends
        self.committer.done(self.topic, self.partition, offset)


async def _send_after(
    after: asyncio.Future[Any],
    producer: Any,
    messages: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]],
) -> None:
    await after  # not delivered: raises, and the outputs are not sent either (the commit fails)
    # they waited a round trip for the audit ack already: no second linger (batch_send.py)
    for future in await send_batches(producer, messages):
        await future
