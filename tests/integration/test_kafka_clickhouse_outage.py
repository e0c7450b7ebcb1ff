"""A Kafka worker whose ClickHouse server goes away mid-stream, and which is then killed and replaced.

Exactly-once, so no event may leave more than one set of audit rows: while the server is down the
worker keeps running (its audit sink retries, nothing is committed); after it is back, the worker is
SIGKILLed with audit batches stored but not yet committed, and its successor replays them from the
committed offsets, cut at other offsets. The server must end with every run's rows exactly once and
every hash chain intact.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dana_workflows.devservices.clickhouse.server import LocalClickHouse
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.fixtures.clickhouse import server_audit_rows, start_local_server
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    start_worker,
    stop_worker,
    wait_consumed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

EVENTS = 1500
TERMINAL_KINDS = {"completed", "rejected", "dlq"}


def stored_rows(port: int) -> int:
    store = ServerAuditStore(port=port, database="dwf", connect_timeout=1)
    try:
        return int(store.query("SELECT count() FROM dwf.events").rows[0][0])
    except Exception:  # the table is not there yet, or the server is starting
        return 0
    finally:
        store.close()


async def until(
    predicate: Callable[[], bool], what: str, timeout_s: float, alive: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert alive(), f"the worker exited while waiting for: {what}"
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.1)


async def test_worker_survives_a_server_outage_and_its_successor_replays_no_row_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    server = start_local_server(tmp_path / "clickhouse")
    assert isinstance(server, LocalClickHouse)
    port = server.tcp_port
    dsn = f"clickhouse://default@127.0.0.1:{port}/dwf"
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = claims_lines(EVENTS, seed=31)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    try:
        first = start_worker(
            tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", audit=dsn, log_name="first.log"
        )
        try:
            alive = lambda: first.poll() is None  # noqa: E731
            await until(lambda: stored_rows(port) > 0, "first audit rows stored", 120, alive)
            server.down(graceful=False)
            log_path = tmp_path / "first.log"

            def insert_failed() -> bool:
                text = log_path.read_text(errors="replace")
                return "audit insert" in text and "failed" in text

            # inserts fail and are retried (the log says so); the worker must not die of it
            await until(insert_failed, "a failed audit insert reported and retried", 120, alive)
            assert alive(), log_path.read_text()[-3000:]
            server.up()
            before = stored_rows(port)
            await until(lambda: stored_rows(port) > before, "inserts resumed", 120, alive)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        log = (tmp_path / "first.log").read_text()
        assert "audit insert" in log and "failed" in log, log[-3000:]  # the outage was seen and retried

        second = start_worker(
            tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", audit=dsn, log_name="second.log"
        )
        try:
            got = await wait_for_outcomes(
                kafka_bootstrap, topology, EVENTS, 240, alive=lambda: second.poll() is None
            )
            assert await wait_consumed(
                kafka_bootstrap, group, topology.audit_topic, 120, lambda: second.poll() is None
            )
        finally:
            code = stop_worker(second)
        assert code == 0, (tmp_path / "second.log").read_text()[-3000:]

        rows = server_audit_rows(port)
    finally:
        server.down()

    runs = {json.loads(d)["run_id"] for ds in got.values() for d in ds}
    assert len(runs) == EVENTS  # no event lost
    report = verify_rows(rows)
    assert report.duplicates == [], f"{len(report.duplicates)} audit rows stored twice"
    assert report.ok, [str(f) for f in report.findings][:5]
    assert {r.run_id for r in rows if r.kind in TERMINAL_KINDS} == runs  # the audit saw every run end
