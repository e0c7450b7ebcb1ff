"""BatchingAuditSink's small contracts, stated from its docstrings: the dedup token of a batch (Kafka lane
and offsets, else a digest of the rows' hashes), the backoff's ceiling and jitter range, the refusal of bad
sizes naming the settings, what a commit reports, and the log line of rows found stored by a replay.
"""

from __future__ import annotations

import hashlib
import logging
import random

import pytest

from dana_workflows.sinks.batching import (
    Batch,
    BatchingAuditSink,
    CommittedBatch,
    Origin,
    backoff_s,
    rows_token,
)
from tests.fixtures.clickhouse import audit_chain
from tests.unit.sinks.test_batching import HeldStore

pytestmark = pytest.mark.unit


def test_rows_token_is_the_count_and_a_digest_of_the_hashes() -> None:
    rows = audit_chain("r", 3)
    digest = hashlib.sha256("".join(r.hash for r in rows).encode()).hexdigest()[:32]
    assert rows_token(rows) == f"rows-3-{digest}"
    assert rows_token([]) == f"rows-0-{hashlib.sha256(b'').hexdigest()[:32]}"


def test_a_lane_batch_token_names_topic_partition_and_offsets() -> None:
    rows = audit_chain("r", 2)
    assert (
        Batch(lane=("dwf.audit", 3), rows=rows, min_offset=10, max_offset=12).dedup_token
        == "dwf.audit-3-10-12"
    )
    assert (
        Batch(lane=("dwf.audit", 3), rows=rows, min_offset=0, max_offset=0).dedup_token == "dwf.audit-3-0-0"
    )
    assert Batch(lane=None, rows=rows).dedup_token == rows_token(rows)
    assert Batch(lane=("t", 0), rows=rows).dedup_token == rows_token(rows)  # no offsets: by content


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.1), (2, 0.2), (3, 0.4), (5, 1.6), (8, 10.0), (30, 10.0)]
)
def test_backoff_doubles_up_to_its_maximum_with_jitter_down_to_half(
    monkeypatch: pytest.MonkeyPatch, attempt: int, ceiling: float
) -> None:
    monkeypatch.setattr(random, "uniform", lambda lo, hi: lo)
    assert backoff_s(attempt, 0.1, 10.0) == pytest.approx(ceiling * 0.5)
    monkeypatch.setattr(random, "uniform", lambda lo, hi: hi)
    assert backoff_s(attempt, 0.1, 10.0) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    ("batch_size", "interval_s", "buffer_max"), [(0, 1.0, 10), (5, 1.0, 4), (5, 0.0, 10), (5, -1.0, 10)]
)
def test_bad_sizes_are_refused_naming_the_values_and_settings(
    batch_size: int, interval_s: float, buffer_max: int
) -> None:
    with pytest.raises(ValueError) as err:
        BatchingAuditSink(HeldStore(), batch_size=batch_size, interval_s=interval_s, buffer_max=buffer_max)
    assert str(err.value) == (
        "audit sink: need batch_size >= 1, buffer_max >= batch_size and interval_s > 0 "
        f"(got batch_size={batch_size}, buffer_max={buffer_max}, interval_s={interval_s}); "
        "check DWF_AUDIT_BATCH_SIZE, DWF_AUDIT_BUFFER_MAX and DWF_AUDIT_BATCH_INTERVAL_S"
    )


def test_the_smallest_valid_sizes_are_taken() -> None:
    sink = BatchingAuditSink(HeldStore(), batch_size=1, interval_s=0.001, buffer_max=1)
    assert (sink.batch_size, sink.buffer_max, sink.depth, sink.inserted_rows) == (1, 1, 0, 0)


async def test_a_commit_reports_the_lane_offsets_rows_and_attempts() -> None:
    store = HeldStore()
    store.fail_next = 1
    committed: list[CommittedBatch] = []
    sink = BatchingAuditSink(
        store,
        batch_size=100,
        interval_s=3600,
        buffer_max=100,
        on_commit=committed.append,
        backoff_initial_s=0.001,
    )
    rows = audit_chain("r", 6)
    for o in (4, 5, 7):
        await sink.put(rows[:2] if o == 4 else rows[2:4] if o == 5 else rows[4:], Origin("dwf.audit", 2, o))
    await sink.flush()
    await sink.close()
    [c] = committed
    assert (c.topic, c.partition, c.min_offset, c.max_offset, c.offsets) == ("dwf.audit", 2, 4, 7, (4, 5, 7))
    assert (c.rows, c.dedup_token, c.attempts) == (6, "dwf.audit-2-4-7", 2)
    assert (sink.inserted_rows, sink.inserted_batches, sink.failed_attempts, sink.consecutive_failures) == (
        6,
        1,
        1,
        0,
    )
    assert sink.last_error == "ConnectionError: server down"
    assert sink.depth == 0


async def test_rows_found_stored_by_a_replay_are_logged_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = HeldStore()
    rows = audit_chain("r", 6)
    first = BatchingAuditSink(store, batch_size=100, interval_s=3600, buffer_max=100)
    await first.put(rows[:4], Origin("dwf.audit", 0, 0))
    await first.close()
    replay = BatchingAuditSink(store, batch_size=100, interval_s=3600, buffer_max=100, check_replays=True)
    await replay.put(rows[:4], Origin("dwf.audit", 0, 0))
    await replay.put(rows[4:], Origin("dwf.audit", 0, 1))
    with caplog.at_level(logging.INFO, logger="dana_workflows.sinks.batching"):
        await replay.close()
    assert replay.replayed_rows == 4
    assert [r.getMessage() for r in caplog.records if "replayed" in r.getMessage()] == [
        "audit lane ('dwf.audit', 0): 4 replayed rows were stored already (batch dwf.audit-0-0-1), left out"
    ]
    assert [r.hash for r in store.rows] == [r.hash for r in rows]
