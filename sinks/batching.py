"""Batched, lossless audit writes from async code: bounded buffer, backpressure, retry until stored.

Rows are grouped per *lane*: one lane per Kafka topic-partition (rows put with an ``Origin``), plus one lane
for rows without an origin (the in-process runtime). A lane's batch is cut by size (``batch_size`` rows) or
age (``interval_s``) and never splits one ``put`` call, so a batch covers whole source offsets. Batches are
inserted in order, one at a time, in a thread (chdb and clickhouse-driver block). While the store fails the
batch is retried forever with exponential backoff and jitter; the buffer stays bounded because ``put`` waits
(backpressure) once ``buffer_max`` rows are pending. After each successful insert ``on_commit`` is called
with the batch's lane and offset range, so a Kafka consumer commits offsets only for rows that are stored.

Each batch carries a dedup token: ``<topic>-<partition>-<min offset>-<max offset>`` for Kafka lanes, a digest
of the rows' hashes otherwise; a retried batch therefore presents the same token to the store.

A *replayed* batch may be cut elsewhere: the age cut depends on how fast records arrived, and a worker
that replays after a crash reads them all at once. With ``check_replays`` (the exactly-once audit
agent), until a Kafka lane is *settled* (from this sink's start, and again after ``forget_lanes()`` at a
rebalance) each of its batches is first checked against the table by row hash, and rows a previous
owner stored (between its insert and its offset commit) are left out. The first batch with none of its
rows stored settles the lane: one lane's batches are stored in offset order, so nothing after it can be
stored either. Only exactly-once may do this: there a row already stored can only come back as a replay
of the same committed record. Under at-least-once a redelivered source record is processed again and
audits *identical* rows in new records, and those duplicates must stay visible (``audit verify`` names
them), so nothing is left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from dana_workflows.sinks.audit_model import AuditRow, AuditStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a put's rows came from: one Kafka record (its rows share the record's offset)."""

    topic: str
    partition: int
    offset: int


Lane = tuple[str, int] | None  # (topic, partition), or None for rows without an origin


@dataclass(slots=True)
class Batch:
    lane: Lane
    rows: list[AuditRow] = field(default_factory=list)
    min_offset: int | None = None
    max_offset: int | None = None
    offsets: list[int] = field(default_factory=list)  # every source offset whose rows are in the batch
    opened_at: float = 0.0  # monotonic time of the first row

    @property
    def dedup_token(self) -> str:
        if self.lane is not None and self.min_offset is not None:
            topic, partition = self.lane
            return f"{topic}-{partition}-{self.min_offset}-{self.max_offset}"
        return rows_token(self.rows)


def backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """Exponential backoff with jitter before retry `attempt` (1 = after the first failure): writers that
    failed together retry apart."""
    ceiling: float = min(max_s, initial_s * 2.0 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


def rows_token(rows: Sequence[AuditRow]) -> str:
    """The dedup token of a batch without a Kafka origin: a digest of its rows' hashes."""
    digest = hashlib.sha256()
    for r in rows:
        digest.update(r.hash.encode())
    return f"rows-{len(rows)}-{digest.hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    """Reported to ``on_commit`` once the store holds the batch: commit ``max_offset + 1`` of the lane."""

    topic: str | None
    partition: int | None
    min_offset: int | None
    max_offset: int | None
    rows: int
    dedup_token: str
    attempts: int
    latency_s: float
    offsets: tuple[int, ...] = ()  # every source offset whose rows the batch holds


CommitHook = Callable[[CommittedBatch], Awaitable[None] | None]


class SinkClosedError(RuntimeError):
    """put() after close(), or the flusher stopped on a fatal error (the message names it)."""


class BatchingAuditSink:
    """Async front of an AuditStore: ``await put(rows)``; ``await flush()``; ``await close()``.

    Metrics (plain attributes, read them from a gauge callback): ``depth`` rows buffered and not yet stored,
    ``last_insert_latency_s``, ``inserted_rows``, ``inserted_batches``, ``failed_attempts``,
    ``consecutive_failures``, ``last_error``.
    """

    def __init__(
        self,
        store: AuditStore,
        batch_size: int = 5000,
        interval_s: float = 1.0,
        buffer_max: int = 100_000,
        *,
        on_commit: CommitHook | None = None,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        max_attempts: int | None = None,
        check_replays: bool = False,
    ) -> None:
        if batch_size < 1 or buffer_max < batch_size or interval_s <= 0:
            raise ValueError(
                f"audit sink: need batch_size >= 1, buffer_max >= batch_size and interval_s > 0 "
                f"(got batch_size={batch_size}, buffer_max={buffer_max}, interval_s={interval_s}); "
                "check DWF_AUDIT_BATCH_SIZE, DWF_AUDIT_BUFFER_MAX and DWF_AUDIT_BATCH_INTERVAL_S"
            )
        self.store = store
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.buffer_max = buffer_max
        self.on_commit = on_commit
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts  # None: retry forever (the audit promise); else fail the sink

        self.depth = 0
        self.last_insert_latency_s = 0.0
        self.inserted_rows = 0
        self.inserted_batches = 0
        self.failed_attempts = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

        self.check_replays = check_replays
        self.replayed_rows = 0  # rows of replayed batches found stored already, left out of inserts
        self._settled: set[Lane] = set()  # Kafka lanes past any rows a previous owner stored
        self._open: dict[Lane, Batch] = {}  # batches still filling, per lane
        self._ready: list[Batch] = []  # cut batches in insert order
        self._changed = asyncio.Condition()
        self._closing = False
        self._fatal: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    # -- producer side -------------------------------------------------------------------------------------
    async def put(self, rows: Sequence[AuditRow], origin: Origin | None = None) -> None:
        """Buffer rows; waits while the buffer is full (backpressure), never drops."""
        if not rows:
            return
        self._start()
        if self._add_without_waking(rows, origin):
            return
        async with self._changed:
            # A put larger than the whole buffer is let in alone, so it cannot wait forever.
            await self._changed.wait_for(
                lambda: self._stopped() or self.depth == 0 or self.depth + len(rows) <= self.buffer_max
            )
            self._raise_if_stopped()
            lane: Lane = (origin.topic, origin.partition) if origin is not None else None
            batch = self._open.get(lane)
            if batch is None:
                batch = self._open[lane] = Batch(lane=lane, opened_at=time.monotonic())
            batch.rows.extend(rows)
            if origin is not None:
                batch.min_offset = origin.offset if batch.min_offset is None else batch.min_offset
                batch.max_offset = origin.offset
                batch.offsets.append(origin.offset)
            self.depth += len(rows)
            if len(batch.rows) >= self.batch_size:
                self._cut(lane)
            self._changed.notify_all()

    def _add_without_waking(self, rows: Sequence[AuditRow], origin: Origin | None) -> bool:
        """The common put, without the condition's lock (~3x cheaper per put): rows that fit the buffer
        and join a lane's open batch without cutting it. Nobody needs waking for those — the flusher
        already timed that batch when it opened, a full batch or a new one takes the locked path — and
        no coroutine is inside a critical section when the lock is free (each waits with it released)."""
        if self._changed.locked() or self._stopped():
            return False
        if self.depth and self.depth + len(rows) > self.buffer_max:
            return False
        batch = self._open.get((origin.topic, origin.partition) if origin is not None else None)
        if batch is None or len(batch.rows) + len(rows) >= self.batch_size:
            return False
        batch.rows.extend(rows)
        if origin is not None:
            batch.max_offset = origin.offset
            batch.offsets.append(origin.offset)
        self.depth += len(rows)
        return True

    async def flush(self) -> None:
        """Cut every open batch and wait until everything put so far is stored (waits out outages)."""
        self._start()
        async with self._changed:
            for lane in list(self._open):
                self._cut(lane)
            self._changed.notify_all()
            await self._changed.wait_for(lambda: self._stopped() or self.depth == 0)
            self._raise_if_stopped(closing_ok=True)

    def forget_lanes(self) -> None:
        """After a rebalance another worker may have stored rows of any lane: check each one again."""
        self._settled.clear()

    async def close(self, timeout_s: float | None = None) -> None:
        """Flush and stop. With a timeout that expires, raise with the count of rows not yet stored."""
        try:
            await asyncio.wait_for(self.flush(), timeout_s)
        except TimeoutError:
            raise SinkClosedError(
                f"audit sink closed with {self.depth} rows not stored after {timeout_s}s "
                f"(last error: {self.last_error}); they were not acknowledged, so Kafka will redeliver them"
            ) from None
        finally:
            self._closing = True
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None

    # -- internals -----------------------------------------------------------------------------------------
    def _start(self) -> None:
        self._raise_if_stopped()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-sink-flusher")

    def _stopped(self) -> bool:
        return self._closing or self._fatal is not None

    def _raise_if_stopped(self, closing_ok: bool = False) -> None:
        if self._fatal is not None:
            raise SinkClosedError(f"audit sink stopped: {self._fatal!r}") from self._fatal
        if self._closing and not closing_ok:
            raise SinkClosedError("audit sink is closed")

    def _cut(self, lane: Lane) -> None:
        batch = self._open.pop(lane, None)
        if batch is not None and batch.rows:
            self._ready.append(batch)

    def _cut_expired(self, now: float) -> float | None:
        """Cut batches older than interval_s; return seconds until the next one expires."""
        wait: float | None = None
        for lane, batch in list(self._open.items()):
            remaining = batch.opened_at + self.interval_s - now
            if remaining <= 0:
                self._cut(lane)
            else:
                wait = remaining if wait is None else min(wait, remaining)
        return wait

    async def _run(self) -> None:
        try:
            while True:
                async with self._changed:
                    while not self._ready:
                        wait = self._cut_expired(time.monotonic())
                        if self._ready:
                            break
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._changed.wait(), wait)
                    batch = self._ready.pop(0)
                await self._insert(batch)
                async with self._changed:
                    self.depth -= len(batch.rows)
                    self._changed.notify_all()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a fatal error (max_attempts reached, hook failure): wake every waiter
            self._fatal = exc
            log.error("audit sink stopped: %r", exc)
            async with self._changed:
                self._changed.notify_all()

    def _store_batch(self, batch: Batch, token: str) -> None:
        """In the inserter thread: the batch, less rows a previous owner of its lane stored already."""
        rows = batch.rows
        if self.check_replays and batch.lane is not None and batch.lane not in self._settled:
            present = self.store.present(rows)
            if present:
                rows = [r for r in rows if r.hash not in present]
                self.replayed_rows += len(batch.rows) - len(rows)
                log.info(
                    "audit lane %s: %d replayed rows were stored already (batch %s), left out",
                    batch.lane,
                    len(batch.rows) - len(rows),
                    token,
                )
            else:
                self._settled.add(batch.lane)
        if rows:
            self.store.insert(rows, token)

    async def _insert(self, batch: Batch) -> None:
        token = batch.dedup_token
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                await asyncio.to_thread(self._store_batch, batch, token)
            except Exception as exc:
                self.failed_attempts += 1
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise
                delay = backoff_s(attempt, self.backoff_initial_s, self.backoff_max_s)
                log.warning(
                    "audit insert of %d rows (%s) failed, attempt %d, retrying in %.2fs: %s",
                    len(batch.rows),
                    token,
                    attempt,
                    delay,
                    self.last_error,
                )
                await asyncio.sleep(delay)
                continue
            latency = time.monotonic() - started
            break
        self.last_insert_latency_s = latency
        self.inserted_rows += len(batch.rows)
        self.inserted_batches += 1
        self.consecutive_failures = 0
        if self.on_commit is not None:
            topic, partition = batch.lane if batch.lane is not None else (None, None)
            done = CommittedBatch(
                topic=topic,
                partition=partition,
                min_offset=batch.min_offset,
                max_offset=batch.max_offset,
                offsets=tuple(batch.offsets),
                rows=len(batch.rows),
                dedup_token=token,
                attempts=attempt,
                latency_s=latency,
            )
            result = self.on_commit(done)
            if inspect.isawaitable(result):
                await result
