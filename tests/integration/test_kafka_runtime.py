"""The Kafka runtime on a real broker: exactly-once end to end with a graceful SIGTERM shutdown, and the
stall watchdog noticing an agent that stopped taking records while its input has lag."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.worker import serve
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    group_offsets,
    read_store_rows,
    read_topic,
    start_worker,
    stop_worker,
    wait_consumed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration


async def test_exactly_once_worker_drains_and_commits_on_sigterm(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = claims_lines(300, seed=4)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    worker = start_worker(
        tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", audit=f"chdb://{tmp_path / 'a'}"
    )
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(lines), 90, alive=lambda: worker.poll() is None
        )
        assert await wait_consumed(
            kafka_bootstrap, group, topology.audit_topic, 60, lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert sum(len(v) for v in got.values()) == len(lines)
    # every step's input is committed to its end: the group would start after the last record
    committed = await group_offsets(kafka_bootstrap, group)
    for node in pipeline.nodes.values():
        records = await read_topic(kafka_bootstrap, topology.topic(node.input))
        for p in {r.partition for r in records}:
            last = max(r.offset for r in records if r.partition == p)
            assert committed[(topology.topic(node.input), p)] >= last + 1
    rows = read_store_rows(tmp_path / "a")
    report = verify_rows(rows)
    assert report.ok and not report.duplicates
    drift_run = f"{pipeline.workflow.name}.drift"  # drift windows' own chain (test_kafka_drift.py)
    assert len({r.run_id for r in rows if r.run_id != drift_run}) == len(lines)


async def test_watchdog_flags_an_agent_that_stopped_fetching(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    options = KafkaOptions(
        bootstrap=kafka_bootstrap,
        partitions=1,
        prefix=topic_prefix,
        data_dir=tmp_path,
        session_timeout_s=6,
        stall_s=2.0,
        commit_interval_s=0.5,
        fuse=False,  # the per-step layout: a middle step's topic (normalize) has an agent to stall
    )
    runtime = KafkaRuntime(pipeline, topology, options, audit_store=None)
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(serve(runtime, stop, on_ready=lambda _: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 60)
        await produce_lines(pipeline, topology, kafka_bootstrap, claims_lines(5, seed=1), partitions=1)
        for _ in range(100):
            if runtime.stats["check_claim"].events:
                break
            await asyncio.sleep(0.2)
        assert runtime.watchdog() is None
        # the failure faust users meet: a consumer that silently stops fetching one topic
        stalled = [tp for tp in runtime.app.consumer.assignment() if tp.topic == topology.topic("normalize")]
        runtime.app.consumer.pause_partitions(stalled)
        await produce_lines(pipeline, topology, kafka_bootstrap, claims_lines(20, seed=2), partitions=1)
        reason = None
        for _ in range(100):
            reason = runtime.watchdog()
            if reason:
                break
            await asyncio.sleep(0.2)
        assert reason is not None and topology.topic("normalize") in reason and "stalled" in reason
        assert not runtime.watchdog.healthy
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
