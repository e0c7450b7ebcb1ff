"""The embedded store behind its writer process (sinks.chdb_process): what the contract suite in
tests/integration/test_clickhouse_server_store.py does not cover — opening it by DSN, one writer per
directory, a child that dies, a parent that dies, a failed insert that leaves the store usable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dana_workflows.sinks.batching import BatchingAuditSink, Origin
from dana_workflows.sinks.chdb_process import ChdbProcessStore
from dana_workflows.sinks.chdb_store import AuditStoreBusyError, AuditStoreError, ChdbAuditStore
from dana_workflows.sinks.stores import open_store
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def test_a_writer_dsn_opens_the_writer_process_and_readers_see_its_rows(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path}", writer=True)
    assert isinstance(store, ChdbProcessStore)
    store.ensure_schema()
    rows = audit_chain("run-a", 4)
    store.insert(rows, dedup_token="t-0-0-3")
    store.insert(rows, dedup_token="t-0-0-3")  # a replayed batch adds nothing
    assert store.query("SELECT count() FROM dwf.events").rows == [(4,)]
    store.close()
    store.close()  # twice is harmless
    reader = open_store(f"chdb://{tmp_path}")
    try:
        assert isinstance(reader, ChdbAuditStore)
        hashes = reader.query("SELECT hash FROM dwf.events ORDER BY seq").rows
        assert [h for (h,) in hashes] == [r.hash for r in rows]
    finally:
        reader.close()


def test_a_second_writer_on_the_same_directory_is_told_what_to_do(tmp_path: Path) -> None:
    first = ChdbProcessStore(tmp_path)
    try:
        with pytest.raises(AuditStoreBusyError, match=r"in use by another process.*ClickHouse server"):
            ChdbProcessStore(tmp_path)
        first.insert(audit_chain("run-a", 2))  # the first writer is unaffected
        assert first.query("SELECT count() FROM dwf.events").rows == [(2,)]
    finally:
        first.close()


def test_a_failed_insert_is_reported_and_the_store_keeps_working(tmp_path: Path) -> None:
    store = ChdbProcessStore(tmp_path)
    try:
        bad = audit_chain("run-a", 1)
        bad[0].seq = -1  # not a UInt32: ClickHouse refuses the batch
        with pytest.raises(AuditStoreError):
            store.insert(bad)
        store.insert(audit_chain("run-b", 3))
        assert store.query("SELECT run_id, count() FROM dwf.events GROUP BY run_id").rows == [("run-b", 3)]
        with pytest.raises(AuditStoreError, match="only reading statements"):
            store.query("ALTER TABLE dwf.events DELETE WHERE 1")
    finally:
        store.close()


def test_a_writer_that_dies_mid_call_fails_that_call_and_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChdbProcessStore(tmp_path)
    store.insert(audit_chain("run-a", 2))
    send = store._send

    def crash_then_send(op: bytes, payload: bytes) -> None:  # the writer dies as the request goes out
        os.kill(store._proc.pid, signal.SIGKILL)
        store._proc.wait(timeout=30)
        send(op, payload)

    monkeypatch.setattr(store, "_send", crash_then_send)
    with pytest.raises(AuditStoreError, match=r"writer process .* exited \(code -9\).*retry it"):
        store.insert(audit_chain("run-b", 2), dedup_token="b-0-0-1")
    monkeypatch.setattr(store, "_send", send)
    store.insert(audit_chain("run-b", 2), dedup_token="b-0-0-1")  # the caller's retry: a new writer
    assert store.restarts == 1
    assert store.query("SELECT run_id, count() FROM dwf.events GROUP BY run_id ORDER BY run_id").rows == [
        ("run-a", 2),
        ("run-b", 2),
    ]
    store.close()
    with pytest.raises(AuditStoreError, match="closed"):
        store.insert(audit_chain("run-c", 1))


def test_a_writer_killed_between_calls_is_replaced_without_an_error(tmp_path: Path) -> None:
    store = ChdbProcessStore(tmp_path)
    try:
        store.insert(audit_chain("run-a", 2))
        os.kill(store._proc.pid, signal.SIGKILL)
        store._proc.wait(timeout=30)
        store.insert(audit_chain("run-b", 3))
        assert store.restarts == 1
        assert store.query("SELECT count() FROM dwf.events").rows == [(5,)]
    finally:
        store.close()


def test_the_writer_does_not_outlive_a_parent_that_never_closed_it(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from dana_workflows.sinks.chdb_process import ChdbProcessStore\n"
        "from tests.fixtures.clickhouse import audit_chain\n"
        f"s = ChdbProcessStore({str(tmp_path)!r})\n"
        "s.insert(audit_chain('run-a', 3))\n"
        "print(s._proc.pid, flush=True)\n"
        "os._exit(0)\n"  # no close(): the child sees its stdin end
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 60
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the writer process kept running after its parent exited"
    reader = ChdbAuditStore(tmp_path)  # the directory is free again, and the rows are there
    try:
        assert reader.query("SELECT count() FROM dwf.events").rows == [(3,)]
    finally:
        reader.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_a_replay_cut_at_other_offsets_adds_no_rows(tmp_path: Path) -> None:
    """Exactly-once: a worker stored offsets 0..7 of a partition (batches cut by age) and crashed before
    committing; its successor replays 0..15 at once (batches cut by size): the store holds every row once."""
    rows = audit_chain("run-a", 32)  # offset o holds rows 2o and 2o+1
    store = ChdbProcessStore(tmp_path)
    try:
        crashed = BatchingAuditSink(store, batch_size=6, interval_s=3600, buffer_max=100, check_replays=True)
        for o in range(8):
            await crashed.put(rows[2 * o : 2 * o + 2], Origin("dwf.audit", 3, o))
        await crashed.flush()
        successor = BatchingAuditSink(
            store, batch_size=10, interval_s=3600, buffer_max=100, check_replays=True
        )
        for o in range(16):
            await successor.put(rows[2 * o : 2 * o + 2], Origin("dwf.audit", 3, o))
        await successor.flush()
        assert successor.replayed_rows == 16
        stored = store.query("SELECT hash, count() FROM dwf.events GROUP BY hash").rows
        assert sorted(stored) == sorted((r.hash, 1) for r in rows)
    finally:
        store.close()
