"""The Kafka runtime on a real broker: exactly-once end to end with a graceful SIGTERM shutdown, the
stall watchdog noticing an agent that stopped taking records while its input has lag, and the group
consumer's fetch wait."""

from __future__ import annotations

import asyncio
import json
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


async def test_the_group_consumer_holds_a_fetch_of_idle_partitions_100_ms(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """faust starts its group consumer with a fetch wait of 1,500 ms. aiokafka has one fetch in flight per
    broker, and while an agent works through fetched records the next fetch carries only the idle
    partitions (resume, drift values, changelogs), which the broker holds for the whole wait: the busy
    partition's next fetch and the ListOffsets of a revocation queue behind it. With two workers on two
    partitions each worker ran at a fraction of one (docs/performance.md, session 10). The worker's
    consumer waits 100 ms (docs/kafka-runtime.md, "Workers"), and still handles every event."""
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    options = KafkaOptions(
        bootstrap=kafka_bootstrap,
        partitions=2,
        prefix=topic_prefix,
        data_dir=tmp_path,
        session_timeout_s=6,
        commit_interval_s=0.5,
        metrics_port=None,
    )
    runtime = KafkaRuntime(pipeline, topology, options, audit_store=None)
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(serve(runtime, stop, on_ready=lambda _: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 60)
        consumer = runtime.app.consumer._thread._consumer  # the aiokafka consumer the worker fetches with
        assert consumer._fetcher._fetch_max_wait_ms == 100
        lines = claims_lines(30, seed=4)
        await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
        outcomes = await wait_for_outcomes(kafka_bootstrap, topology, len(lines), 60)
        runs = {json.loads(d)["run_id"] for ds in outcomes.values() for d in ds}
        assert len(runs) == len(lines)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
