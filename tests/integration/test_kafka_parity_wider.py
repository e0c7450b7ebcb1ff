"""Parity beyond the plain case: the Kafka worker decides and audits exactly what the local runtime does
under exactly-once, and still does after it is SIGKILLed mid-stream and started again.

Only the public behaviour is compared (the `dana-wf worker` process, its topics, its audit store), so the
test holds whatever the worker does inside. Compared as in test_kafka_parity.py: decision records per
output topic as multisets, audit rows per run ordered by seq without ts_us, duration_us, prev_hash, hash.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    outcomes_then_stop,
    read_store_rows,
    read_topic,
    start_worker,
)
from tests.integration.test_kafka_parity import assert_same_as_local, run_local

pytestmark = pytest.mark.integration

EVENTS = 900


async def kill_part_way(worker_alive: object, bootstrap: str, topic: str, at: int) -> int:
    """Wait (bounded by the worker staying alive) until `at` outcomes are out, uncommitted included."""
    assert callable(worker_alive)
    done = 0
    while worker_alive():
        done = len(await read_topic(bootstrap, topic, committed_only=False))
        if done >= at:
            break
        await asyncio.sleep(0.2)
    return done


@pytest.mark.parametrize("crash", [False, True], ids=["exactly_once", "exactly_once_after_sigkill"])
async def test_exactly_once_worker_matches_the_local_runtime(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, crash: bool
) -> None:
    lines = claims_lines(EVENTS, seed=29)
    local_decisions, local_rows = await run_local(lines, tmp_path)

    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    audit_dir = tmp_path / "audit"
    audit = f"chdb://{audit_dir}"

    if crash:
        first = start_worker(tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", audit, log_name="1.log")
        try:
            await kill_part_way(lambda: first.poll() is None, kafka_bootstrap, topology.topic("out"), 150)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        committed = len(await read_topic(kafka_bootstrap, topology.topic("out")))
        assert committed < EVENTS, "the worker finished before it was killed; nothing was tested"

    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", audit, log_name="2.log")
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    got = await outcomes_then_stop(worker, tmp_path / "2.log", kafka_bootstrap, topology, EVENTS, group)

    # decisions: the same multiset per output topic, no event twice, none lost
    assert sum(len(d) for d in got.values()) == EVENTS, {b: len(d) for b, d in got.items()}
    # the terminal topics (drift windows have their own parity test, test_kafka_drift.py)
    assert set(got) == {"out", "rejected", "dlq"}
    assert_same_as_local(got, local_decisions, read_store_rows(audit_dir), local_rows)
    # the local runtime's own chains verify too
    local_report = verify_rows(local_rows)
    assert local_report.ok and not local_report.duplicates
