"""Drift known answers in the Kafka runtime: the synthetic streams of
tests/unit/drift/test_drift_local_runtime.py
through a worker subprocess on the real broker. With the shift, both monitors alert in the first full
window after it and never before; the stationary stream never warns or alerts.

Topic partitions = 1, so events finish (reach the drift values topic) in input order and the drift
watermark sees the local runtime's order. With several partitions, events of different partitions
interleave and can arrive behind the watermark: that cross-partition disorder is a documented limitation
(docs/kafka-runtime.md, tests/integration/test_kafka_drift.py), not what these tests check.

A stream is never flushed: only windows the watermark closed have records (windows 0..8 of 10 here).
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fastavro
import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.drift_agent import VALUES_BOUNDARY, drift_values
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import DRIFT, Topology, topic_name
from tests.integration.kafka_support import read_topic, stop_worker, worker_env
from tests.unit.drift.test_drift_local_runtime import SHIFT_WINDOW, SPEC, events

pytestmark = pytest.mark.integration

MONITORS = ("kinds", "amounts")
WINDOWS = 10
CLOSED = WINDOWS - 1  # the last window stays open: no later event moves the watermark past it


def start(tmp: Path, spec: Path, bootstrap: str, prefix: str) -> subprocess.Popen[bytes]:
    cmd = [
        *(sys.executable, "-m", "dana_workflows.cli.worker", "worker", str(spec), "--broker", bootstrap),
        *("--prefix", prefix, "--partitions", "1", "--session-timeout", "6"),
        *("--commit-interval", "0.5", "--no-audit-sink", "--metrics-port", "0"),
    ]
    log = (tmp / "worker.log").open("ab")
    return subprocess.Popen(cmd, env=worker_env(tmp), stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


def decode(topology: Topology, records: list[Any]) -> list[dict[str, Any]]:
    raw: Any = topology.topics[DRIFT].schema
    schema = fastavro.parse_schema(raw)
    out: list[dict[str, Any]] = []
    for r in records:
        record: Any = fastavro.schemaless_reader(io.BytesIO(r.value[5:]), schema, None)
        out.append(dict(record))
    return out


async def drift_records(tmp: Path, bootstrap: str, prefix: str, lines: list[str]) -> list[dict[str, Any]]:
    """Produce ``lines`` on one partition, let one worker count them, return its drift records."""
    spec = tmp / "shifty.yaml"
    spec.write_text(SPEC)
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
    values_topic = topic_name(pipeline.workflow.name, VALUES_BOUNDARY, prefix)
    started = time.monotonic()
    worker = start(tmp, spec, bootstrap, prefix)
    try:
        await produce_lines(pipeline, topology, bootstrap, lines, partitions=1)
        deadline = time.monotonic() + 90
        got: list[dict[str, Any]] = []
        while time.monotonic() < deadline and worker.poll() is None:
            # decode the drift topic only once every event's values were counted (a message per batch)
            if sum(len(drift_values(r.value)) for r in await read_topic(bootstrap, values_topic)) >= len(
                lines
            ):
                got = decode(topology, await read_topic(bootstrap, topology.topic(DRIFT)))
                if len(got) >= CLOSED * len(MONITORS):
                    break
            await asyncio.sleep(1.0)
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp / "worker.log").read_text()[-3000:]
    print(
        f"drift known answers: {len(lines)} events, {len(got)} records in {time.monotonic() - started:.1f}s"
    )
    return got


def by_monitor(records: list[dict[str, Any]], monitor: str) -> list[dict[str, Any]]:
    return sorted((r for r in records if r["monitor"] == monitor), key=lambda r: r["window_start_us"])


async def test_alert_fires_in_the_first_full_window_after_the_shift(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    records = await drift_records(tmp_path, kafka_bootstrap, topic_prefix, events(shift=True))
    assert len(records) == CLOSED * len(MONITORS), records
    for monitor in MONITORS:
        mine = by_monitor(records, monitor)
        assert [r["window_start_us"] for r in mine] == [w * 100_000_000 for w in range(CLOSED)], monitor
        assert all(r["closed_by"] == "watermark" for r in mine)
        levels = [r["level"] for r in mine]
        assert [r["reference"] for r in mine[:2]] == ["building", "building"], monitor
        assert levels[2:SHIFT_WINDOW] == ["ok"] * (SHIFT_WINDOW - 2), (monitor, levels)
        assert "warn" not in levels[:SHIFT_WINDOW] and "alert" not in levels[:SHIFT_WINDOW]
        assert levels[SHIFT_WINDOW] == "alert", (monitor, levels)


async def test_stationary_stream_never_warns_or_alerts(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    records = await drift_records(tmp_path, kafka_bootstrap, topic_prefix, events(shift=False))
    assert len(records) == CLOSED * len(MONITORS), records
    for monitor in MONITORS:
        assert len(by_monitor(records, monitor)) == CLOSED
    assert [r for r in records if r["level"] != "ok"] == []
