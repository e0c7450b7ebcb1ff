"""No loss when the ClickHouse server goes away mid-stream.

A real clickhouse-server (our own, on its own data dir, so the session server is untouched) is stopped while
chained audit rows keep arriving through BatchingAuditSink. The producer must be slowed down (put waits on
the full buffer), nothing may be committed while the server is down, and after the server comes back on the
same data dir every row is there exactly once, every hash chain verifies and the committed Kafka offsets
cover every offset exactly once. Run twice: a graceful stop (SIGTERM) and a crash (SIGKILL), where an insert
in flight has an unknown outcome.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from dana_workflows.devservices.clickhouse.server import LocalClickHouse
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.batching import BatchingAuditSink, CommittedBatch, Origin
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.verify import verify_rows
from tests.fixtures.clickhouse import audit_chain, server_audit_rows, start_local_server, verify_chain

pytestmark = pytest.mark.integration

RUNS, STEPS, PARTITIONS = 30, 40, 3
BUFFER_MAX = 200


async def until(predicate: object, what: str, tries: int = 3000) -> None:
    assert callable(predicate)
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def messages() -> list[tuple[AuditRow, Origin]]:
    """Rows as a Kafka audit topic would carry them: runs interleaved, one row per record, runs keyed to
    partitions (so a run's rows keep their order within one partition)."""
    chains = [audit_chain(f"run-{i:03d}", STEPS) for i in range(RUNS)]
    next_offset = [0] * PARTITIONS
    out: list[tuple[AuditRow, Origin]] = []
    for seq in range(STEPS):
        for i, chain in enumerate(chains):
            p = i % PARTITIONS
            out.append((chain[seq], Origin("dwf.audit", p, next_offset[p])))
            next_offset[p] += 1
    return out


@pytest.mark.parametrize("graceful", [True, False], ids=["stopped", "killed"])
async def test_server_outage_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, graceful: bool) -> None:
    server = start_local_server(tmp_path / "clickhouse")
    assert isinstance(server, LocalClickHouse)
    store = ServerAuditStore(port=server.tcp_port, database="dwf", connect_timeout=1, send_receive_timeout=10)
    commits: list[CommittedBatch] = []
    try:
        store.ensure_schema()
        sink = BatchingAuditSink(
            store,
            batch_size=50,
            interval_s=0.05,
            buffer_max=BUFFER_MAX,
            on_commit=commits.append,
            backoff_initial_s=0.02,
            backoff_max_s=0.3,
        )
        stream = messages()
        first, rest = stream[:400], stream[400:]
        for row, origin in first:  # 400 rows through a 200-row buffer: inserts are running when we stop it
            await sink.put([row], origin)
        assert sink.inserted_rows > 0

        await asyncio.to_thread(server.down, graceful)

        async def produce() -> None:
            for row, origin in rest:
                await sink.put([row], origin)

        producer = asyncio.create_task(produce())
        await until(
            lambda: sink.depth == BUFFER_MAX and sink.consecutive_failures >= 3,
            "buffer full and inserts failing while the server is down",
        )
        committed_during_outage = len(commits)
        failures = sink.consecutive_failures
        await until(lambda: sink.consecutive_failures >= failures + 3, "more failed retries")
        assert not producer.done(), (
            "put must wait (backpressure) while the buffer is full and the server down"
        )
        assert len(commits) == committed_during_outage, "nothing may be committed while the server is down"
        assert sink.depth == BUFFER_MAX, "the buffer stays bounded"

        await asyncio.to_thread(server.up)
        await producer
        await sink.close(timeout_s=120)
    finally:
        store.close()

    check = ServerAuditStore(port=server.tcp_port, database="dwf")
    try:
        total = check.query("SELECT count() AS n, uniqExact(event_id) AS ids FROM dwf.events").rows[0]
        assert tuple(total) == (RUNS * STEPS, RUNS * STEPS)
        dupes = check.query(
            "SELECT run_id, seq, count() AS c FROM dwf.events GROUP BY run_id, seq HAVING c > 1"
        )
        assert dupes.rows == []
        stored = server_audit_rows(server.tcp_port)
    finally:
        check.close()
        server.down()

    by_run: dict[str, list[AuditRow]] = defaultdict(list)
    for row in stored:
        by_run[row.run_id].append(row)
    assert len(by_run) == RUNS
    for run_id, rows in by_run.items():
        assert [r.seq for r in rows] == list(range(STEPS)), run_id
        assert verify_chain(rows) == [], run_id

    # Offsets a Kafka consumer would commit: per partition, contiguous batches covering every offset once.
    for p in range(PARTITIONS):
        ranges = [(c.min_offset, c.max_offset) for c in commits if c.partition == p]
        covered = [o for lo, hi in ranges for o in range(lo or 0, (hi or 0) + 1)]
        expected = len([1 for _, o in stream if o.partition == p])
        assert covered == list(range(expected)), f"partition {p}"


def test_dana_wf_run_waits_out_a_server_outage_and_stores_every_row_once(tmp_path: Path) -> None:
    """`dana-wf run` into a server that is killed after its first batches landed and comes back: the
    run retries (saying so on stderr), finishes, and the server holds every audit row once."""
    root = Path(__file__).resolve().parents[2]
    server = start_local_server(tmp_path / "clickhouse")
    assert isinstance(server, LocalClickHouse)
    dsn = f"clickhouse://default@127.0.0.1:{server.tcp_port}/dwf"
    env = {**os.environ, "DWF_AUDIT_BATCH_SIZE": "1000"}  # ~70 batches: most are still to come at the kill
    example = root / "docs" / "examples" / "claims"
    args = ["run", str(example / "claims.yaml"), "--input", str(example / "events.jsonl")]
    run = subprocess.Popen(
        [sys.executable, "-m", "dana_workflows.cli", *args, "--out", str(tmp_path / "out"), "--audit", dsn],
        cwd=tmp_path,
        env=env,
        stdout=(tmp_path / "stdout.txt").open("w"),
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )
    try:
        probe = ServerAuditStore(port=server.tcp_port, database="dwf", connect_timeout=1)
        try:
            deadline = time.monotonic() + 120
            while True:  # until the first batch is in
                assert run.poll() is None, "the run ended before its audit rows reached the server"
                assert time.monotonic() < deadline, "no audit row reached the server"
                try:
                    if probe.query("SELECT count() FROM dwf.events").rows[0][0] > 0:
                        break
                except Exception:  # the table is not there yet
                    pass
                time.sleep(0.01)
        finally:
            probe.close()
        server.down(graceful=False)
        # the run keeps going into its bounded in-flight batches, then waits on retries, saying so
        deadline = time.monotonic() + 120
        while "retrying in" not in (tmp_path / "stderr.txt").read_text(errors="replace"):
            assert run.poll() is None, "the run must wait for the server, not end without its audit rows"
            assert time.monotonic() < deadline, "the run never said it was retrying the insert"
            time.sleep(0.1)
        assert run.poll() is None, "the run must wait for the server, not end without its audit rows"
        server.up()
        run.wait(timeout=300)
        stdout = (tmp_path / "stdout.txt").read_text()
        stderr = (tmp_path / "stderr.txt").read_text()
    finally:
        if run.poll() is None:
            run.kill()
    try:
        assert run.returncode == 0, stderr[-2000:]
        assert "retrying in" in stderr
        stored = server_audit_rows(server.tcp_port)
    finally:
        server.down()
    reported = re.search(r"audit: (\d+) rows", stdout)
    assert reported is not None, stdout[-2000:]
    assert len(stored) == int(reported.group(1)) > 60_000  # the rows the run made, all of them
    assert len({(r.run_id, r.seq) for r in stored}) == len(stored)
    assert verify_rows(stored).ok
