"""BatchingAuditSink scheduling: size and time cuts, lanes and tokens, backpressure, retries, commit hook.

The store here is a small in-process AuditStore whose inserts can be held or made to fail, so the sink's
own logic is tested without a server; the same sink against a real ClickHouse server that is stopped and
restarted is tests/integration/test_clickhouse_fault.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from dana_workflows.sinks.audit_model import AuditRow, QueryResult
from dana_workflows.sinks.batching import BatchingAuditSink, CommittedBatch, Origin, SinkClosedError
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.unit


class HeldStore:
    """Keeps inserted batches in memory; inserts block while ``gate`` is clear; fails ``fail_next`` times."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[AuditRow], str | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next = 0
        self.attempts = 0
        self.presence_checks = 0

    def ensure_schema(self) -> None:
        pass

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        self.attempts += 1
        self.gate.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("server down")
        self.batches.append((list(rows), dedup_token))

    def query(self, sql: str) -> QueryResult:
        return QueryResult(columns=[])

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        self.presence_checks += 1
        stored = {r.hash for r in self.rows}
        return {r.hash for r in rows if r.hash in stored}

    def close(self) -> None:
        pass

    @property
    def rows(self) -> list[AuditRow]:
        return [r for rows, _ in self.batches for r in rows]


async def until(predicate: object, what: str) -> None:
    """Yield to the loop until predicate() holds; fail (not hang) if it never does."""
    assert callable(predicate)
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


async def test_cuts_a_batch_at_batch_size() -> None:
    store = HeldStore()
    sink = BatchingAuditSink(store, batch_size=10, interval_s=3600, buffer_max=100)
    rows = audit_chain("r", 25)
    for row in rows:
        await sink.put([row])
    await until(lambda: len(store.batches) == 2, "two full batches inserted without a flush")
    assert [len(b) for b, _ in store.batches] == [10, 10]
    assert sink.depth == 5
    await sink.close()
    assert [len(b) for b, _ in store.batches] == [10, 10, 5]
    assert store.rows == rows and sink.depth == 0


async def test_cuts_a_partial_batch_after_interval() -> None:
    store = HeldStore()
    sink = BatchingAuditSink(store, batch_size=1000, interval_s=0.05, buffer_max=1000)
    await sink.put(audit_chain("r", 3))
    await until(lambda: len(store.batches) == 1, "the time threshold cut a 3-row batch")
    assert len(store.batches[0][0]) == 3
    await sink.close()


async def test_put_waits_while_buffer_is_full_and_resumes_when_store_drains() -> None:
    store = HeldStore()
    store.gate.clear()  # the store accepts nothing for now
    sink = BatchingAuditSink(store, batch_size=5, interval_s=3600, buffer_max=10)
    rows = audit_chain("r", 30)
    for i in range(10):
        await sink.put([rows[i]])  # fills the buffer exactly
    blocked = asyncio.create_task(sink.put([rows[10]]))
    try:
        await until(lambda: store.attempts == 1, "the flusher is stuck in the held insert")
        for _ in range(20):
            await asyncio.sleep(0)
        assert not blocked.done(), "put must wait while the buffer is full"
        assert sink.depth == 10
    finally:
        store.gate.set()  # never leave the insert thread parked
    await blocked
    for row in rows[11:]:
        await sink.put([row])
    await sink.close()
    assert store.rows == rows


async def test_a_put_larger_than_the_buffer_is_let_in_alone() -> None:
    store = HeldStore()
    sink = BatchingAuditSink(store, batch_size=5, interval_s=3600, buffer_max=10)
    await sink.put(audit_chain("r", 25))
    await sink.close()
    assert len(store.rows) == 25


async def test_retries_until_the_store_takes_the_batch_and_reports_failures() -> None:
    store = HeldStore()
    store.fail_next = 3
    commits: list[CommittedBatch] = []
    sink = BatchingAuditSink(
        store, batch_size=4, interval_s=3600, buffer_max=8, on_commit=commits.append, backoff_initial_s=0.001
    )
    rows = audit_chain("r", 4)
    await sink.put(rows)
    await sink.flush()
    assert store.rows == rows
    assert sink.failed_attempts == 3 and sink.consecutive_failures == 0
    assert sink.last_error == "ConnectionError: server down"
    assert [c.attempts for c in commits] == [4]
    await sink.close()


async def test_kafka_lanes_get_offset_tokens_and_commits_in_order() -> None:
    store = HeldStore()
    commits: list[CommittedBatch] = []

    async def on_commit(batch: CommittedBatch) -> None:
        commits.append(batch)

    sink = BatchingAuditSink(store, batch_size=3, interval_s=3600, buffer_max=100, on_commit=on_commit)
    rows = audit_chain("r", 8)
    for offset, row in enumerate(rows):
        await sink.put([row], Origin("dwf.audit", offset % 2, 100 + offset))
    await sink.close()
    by_partition = {
        p: [(c.min_offset, c.max_offset, c.dedup_token) for c in commits if c.partition == p] for p in (0, 1)
    }
    assert by_partition[0] == [(100, 104, "dwf.audit-0-100-104"), (106, 106, "dwf.audit-0-106-106")]
    assert by_partition[1] == [(101, 105, "dwf.audit-1-101-105"), (107, 107, "dwf.audit-1-107-107")]
    # every source offset a batch holds, not just its range: the Kafka committer registers each one
    assert [c.offsets for c in commits if c.partition == 0] == [(100, 102, 104), (106,)]
    assert [t for _, t in store.batches] == [c.dedup_token for c in commits]
    assert sorted(store.rows, key=lambda r: r.seq) == rows


async def test_one_put_is_never_split_across_batches() -> None:
    store = HeldStore()
    sink = BatchingAuditSink(store, batch_size=4, interval_s=3600, buffer_max=100)
    rows = audit_chain("r", 9)
    await sink.put(rows[:3], Origin("t", 0, 1))
    await sink.put(rows[3:6], Origin("t", 0, 2))  # 6 rows >= 4: cut here, offsets 1..2
    await sink.put(rows[6:], Origin("t", 0, 3))
    await sink.close()
    assert [(len(b), t) for b, t in store.batches] == [(6, "t-0-1-2"), (3, "t-0-3-3")]


async def test_rows_without_origin_get_a_content_token_stable_across_retries() -> None:
    rows = audit_chain("r", 5)
    tokens = []
    for _ in range(2):
        store = HeldStore()
        sink = BatchingAuditSink(store, batch_size=5, interval_s=3600, buffer_max=10)
        await sink.put(rows)
        await sink.close()
        tokens.append(store.batches[0][1])
    assert tokens[0] == tokens[1] and tokens[0] is not None and tokens[0].startswith("rows-5-")


async def test_max_attempts_stops_the_sink_and_put_raises() -> None:
    store = HeldStore()
    store.fail_next = 100
    sink = BatchingAuditSink(
        store, batch_size=2, interval_s=3600, buffer_max=4, max_attempts=2, backoff_initial_s=0
    )
    await sink.put(audit_chain("r", 2))
    with pytest.raises(SinkClosedError, match="server down"):
        await sink.flush()
    with pytest.raises(SinkClosedError):
        await sink.put(audit_chain("s", 1))


async def test_close_with_timeout_names_the_rows_not_stored() -> None:
    store = HeldStore()
    store.fail_next = 10**6
    sink = BatchingAuditSink(store, batch_size=2, interval_s=3600, buffer_max=4, backoff_initial_s=0.001)
    await sink.put(audit_chain("r", 3))
    with pytest.raises(SinkClosedError, match="3 rows not stored"):
        await sink.close(timeout_s=0.05)


def test_bad_sizes_are_refused_with_the_settings_to_fix() -> None:
    with pytest.raises(ValueError, match="DWF_AUDIT_BUFFER_MAX"):
        BatchingAuditSink(HeldStore(), batch_size=10, interval_s=1, buffer_max=5)


async def test_a_replay_cut_elsewhere_stores_each_row_once_and_settles_the_lane() -> None:
    """A worker that crashed between its inserts and its offset commit left batches cut by age; the
    next owner reads the same records at once, so its batches are cut by size at other offsets."""
    store = HeldStore()
    rows = audit_chain("r", 40)  # offset o holds rows 2o and 2o+1
    first = BatchingAuditSink(store, batch_size=6, interval_s=3600, buffer_max=100, check_replays=True)
    for o in range(13):  # the crashed owner stored offsets 0..12, cut after every 3 offsets
        await first.put(rows[2 * o : 2 * o + 2], Origin("dwf.audit", 0, o))
    await first.flush()
    assert [tok for _, tok in store.batches][-1] == "dwf.audit-0-12-12"
    committed: list[CommittedBatch] = []
    replay = BatchingAuditSink(
        store, batch_size=10, interval_s=3600, buffer_max=100, on_commit=committed.append, check_replays=True
    )
    for o in range(20):  # its successor replays from offset 0: batches 0-4, 5-9, 10-14, 15-19
        await replay.put(rows[2 * o : 2 * o + 2], Origin("dwf.audit", 0, o))
    await replay.flush()
    assert [r.hash for r in store.rows] == [r.hash for r in rows]  # every row once, in order
    assert replay.replayed_rows == 26
    assert [(c.min_offset, c.max_offset) for c in committed] == [(0, 4), (5, 9), (10, 14), (15, 19)]
    # the first owner checked once (empty table: settled at once); the replay checked until its first
    # batch with nothing stored: 0-4 and 5-9 (all stored), 10-14 (10..12 stored), 15-19 (none)
    assert store.presence_checks == 1 + 4
    await replay.put(rows[:2], Origin("dwf.audit", 0, 0))  # settled: a lane is not checked again...
    await replay.flush()
    assert store.presence_checks == 5
    replay.forget_lanes()  # ...until a rebalance
    await replay.put(rows[2:4], Origin("dwf.audit", 0, 1))
    await replay.flush()
    assert store.presence_checks == 6
    # the deliberate re-put after settling was inserted (audit verify names such duplicates); the one
    # after forget_lanes was found stored and left out
    assert len(store.rows) == 42
    assert replay.replayed_rows == 26 + 2


async def test_rows_without_a_kafka_origin_are_never_checked() -> None:
    store = HeldStore()
    sink = BatchingAuditSink(store, batch_size=4, interval_s=3600, buffer_max=100, check_replays=True)
    await sink.put(audit_chain("r", 8))
    await sink.flush()
    assert store.presence_checks == 0
    assert len(store.rows) == 8


async def test_without_check_replays_identical_rows_are_stored_again() -> None:
    """At-least-once: a redelivered source record audits identical rows in a new audit record; they are
    stored again so that `audit verify` names the repeated outcome as a duplicate."""
    store = HeldStore()
    rows = audit_chain("r", 4)
    sink = BatchingAuditSink(store, batch_size=100, interval_s=3600, buffer_max=100)
    await sink.put(rows, Origin("dwf.audit", 0, 7))
    await sink.flush()
    again = BatchingAuditSink(store, batch_size=100, interval_s=3600, buffer_max=100)  # after a restart
    await again.put(rows, Origin("dwf.audit", 0, 12))
    await again.flush()
    assert [r.hash for r in store.rows] == [r.hash for r in rows] * 2
    assert store.presence_checks == 0 and again.replayed_rows == 0
