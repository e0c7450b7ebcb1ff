"""Drift in the Kafka runtime, against the real broker: the claims example's drift records equal the local
runtime's for the same input, and a worker SIGKILLed mid-window continues the window's counts from its
changelog-backed table (the final records equal an uninterrupted run's).

Arrival order: two partitions, and steps that end events at different agents, interleave the order in
which events *finish* (the drift values topic) a batch at a time, far apart in event time (the largest
disorder across sources is printed: ~1.5 h here). The drift agent keeps a watermark per source (each topic
partition whose records end journeys, drift/windows.py) and closes windows at their minimum, so the
example's own lateness (600 s) holds and the Kafka records equal the local runtime's; under one watermark
per workflow (until session 17) these tests needed the lateness raised to 3 h. The stream is fed a chunk at
a time (150 claims, ~1.5 h), each once the previous one's events all finished, so the SIGKILL lands
mid-chunk; tests/integration/test_kafka_drift_backlog.py produces a whole backlog at once.
"""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastavro
import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.drift_agent import VALUES_BOUNDARY, drift_values
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import DRIFT, Topology, topic_name
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    group_offsets,
    read_topic,
    row_key,
    stop_worker,
    worker_env,
)

pytestmark = pytest.mark.integration

EVENTS = 1200  # one claim every ~36 s: 12 one-hour windows
CHUNK = 150  # produced together, then waited for: ~1.5 h of event time
LATENESS_S = 600  # the example's own: less than the disorder across sources (printed)


def drift_spec(tmp: Path) -> Path:
    text = CLAIMS_SPEC.read_text()
    assert f"allowed_lateness_s: {LATENESS_S}" in text
    path = tmp / "claims_drift.yaml"
    path.write_text(text)
    return path


def start(
    tmp: Path, spec: Path, bootstrap: str, prefix: str, guarantee: str, log_name: str
) -> subprocess.Popen[bytes]:
    cmd = [
        *(sys.executable, "-m", "dana_workflows.cli.worker", "worker", str(spec), "--broker", bootstrap),
        *("--prefix", prefix, "--guarantee", guarantee, "--partitions", "2", "--session-timeout", "6"),
        *("--commit-interval", "0.5", "--no-audit-sink", "--metrics-port", "0"),
    ]
    log = (tmp / log_name).open("ab")
    return subprocess.Popen(cmd, env=worker_env(tmp), stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


async def local_drift(spec: Path, lines: list[str], tmp: Path) -> tuple[list[dict[str, Any]], list[AuditRow]]:
    """The local runtime's records of windows the watermark closed (the flush at the end of a finite
    input closes the rest, which a stream never does), and its drift audit rows."""
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp / "local-schemas"))
    rows: list[AuditRow] = []
    await LocalRuntime(pipeline, topology, OutputFiles(tmp / "local-out", topology), collect_rows(rows)).run(
        lines
    )
    records = read_jsonl(tmp / "local-out" / f"{topology.topic(DRIFT)}.jsonl")
    closed = [r for r in records if r["closed_by"] == "watermark"]
    drift_rows = [r for r in rows if r.run_id == f"{pipeline.workflow.name}.drift"][: len(closed)]
    return closed, drift_rows


def decode_records(topology: Topology, records: list[Any]) -> list[dict[str, Any]]:
    schema = fastavro.parse_schema(topology.topics[DRIFT].schema)
    return [dict(fastavro.schemaless_reader(io.BytesIO(r.value[5:]), schema, None)) for r in records]


async def kafka_drift(
    bootstrap: str, topology: Topology, expected: int, timeout_s: float, alive: Any
) -> list[dict[str, Any]]:
    """The drift records on the broker (committed), once ``expected`` arrived or the time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        got = decode_records(topology, await read_topic(bootstrap, topology.topic(DRIFT)))
        if len(got) >= expected or loop.time() > deadline or not alive():
            return got
        await asyncio.sleep(1.0)


async def values_done(bootstrap: str, values_topic: str, admitted: int, timeout_s: float, alive: Any) -> int:
    """Until every admitted event reached the drift values topic (its journey ended)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        n = values_count(await read_topic(bootstrap, values_topic))
        if n >= admitted or loop.time() > deadline or not alive():
            return n
        await asyncio.sleep(1.0)


async def disorder_s(bootstrap: str, values_topic: str) -> float:
    """The largest gap between the watermark and an arriving event's time, in seconds."""
    wm, worst = None, 0
    for t in (v["t"] for r in await read_topic(bootstrap, values_topic) for v in drift_values(r.value)):
        if wm is not None:
            worst = max(worst, wm - t)
        wm = t if wm is None else max(wm, t)
    return float(worst)


def values_count(records: list[Any]) -> int:
    """Events on the drift values topic (a message carries the values of a batch's events)."""
    return sum(len(drift_values(r.value)) for r in records)


def admitted_count(spec: Path, lines: list[str]) -> int:
    from dana_workflows.processors.ingest import admit

    ir = load_pipeline(spec).workflow
    return sum(1 for i, line in enumerate(lines) if admit(ir, line, i, 0).accepted)


async def feed(
    spec: Path, topology: Topology, bootstrap: str, chunks: list[list[str]], values_topic: str, alive: Any
) -> None:
    """Produce chunk after chunk, each once the previous one's events all reached the drift values topic."""
    pipeline = load_pipeline(spec)
    admitted = values_count(await read_topic(bootstrap, values_topic))
    for chunk in chunks:
        await produce_lines(pipeline, topology, bootstrap, chunk, partitions=2)
        admitted += admitted_count(spec, chunk)
        assert await values_done(bootstrap, values_topic, admitted, 60, alive) == admitted


def chunked(lines: list[str]) -> list[list[str]]:
    return [lines[i : i + CHUNK] for i in range(0, len(lines), CHUNK)]


async def test_kafka_drift_records_equal_the_local_runtimes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    spec = drift_spec(tmp_path)
    lines = claims_lines(EVENTS, seed=31)
    expected, expected_rows = await local_drift(spec, lines, tmp_path)
    assert len(expected) >= 12, "too few closed windows to compare"

    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    values_topic = topic_name(pipeline.workflow.name, VALUES_BOUNDARY, topic_prefix)
    admitted = admitted_count(spec, lines)
    worker = start(tmp_path, spec, kafka_bootstrap, topic_prefix, "at_least_once", "worker.log")
    alive = lambda: worker.poll() is None  # noqa: E731
    try:
        await feed(spec, topology, kafka_bootstrap, chunked(lines), values_topic, alive)
        got = await kafka_drift(kafka_bootstrap, topology, len(expected), 30, alive)
        audit = await read_topic(kafka_bootstrap, topology.audit_topic)
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert got == expected
    codec = WireCodec(topology.registry)
    drift_run = f"{pipeline.workflow.name}.drift"
    rows = [r for a in audit for r in codec.decode_rows(a.value) if r.run_id == drift_run]
    assert [row_key(r) for r in rows] == [row_key(r) for r in expected_rows]
    print(
        f"drift parity: {len(got)} records from {admitted} events equal the local runtime's; "
        f"largest disorder on the drift values topic {await disorder_s(kafka_bootstrap, values_topic):.0f}s "
        f"(allowed lateness {LATENESS_S}s)"
    )


async def test_sigkill_mid_window_continues_the_windows_counts(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    spec = drift_spec(tmp_path)
    lines = claims_lines(EVENTS, seed=37)
    expected, _ = await local_drift(spec, lines, tmp_path)

    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    values_topic = topic_name(pipeline.workflow.name, VALUES_BOUNDARY, topic_prefix)
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    chunks = chunked(lines)
    half = len(chunks) // 2

    first = start(tmp_path, spec, kafka_bootstrap, topic_prefix, "exactly_once", "first.log")
    try:
        await feed(spec, topology, kafka_bootstrap, chunks[:half], values_topic, lambda: first.poll() is None)
        # the next chunk, killed while its events are being counted: mid-window, mid-transaction
        before = values_count(await read_topic(kafka_bootstrap, values_topic))
        await produce_lines(pipeline, topology, kafka_bootstrap, chunks[half], partitions=2)
        while first.poll() is None:
            seen = values_count(await read_topic(kafka_bootstrap, values_topic, committed_only=False))
            if seen >= before + CHUNK // 3:
                break
            await asyncio.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    committed = (await group_offsets(kafka_bootstrap, group)).get((values_topic, 0), 0)
    closed = len(await read_topic(kafka_bootstrap, topology.topic(DRIFT)))
    assert committed > 0 and closed > 0, "the worker was killed before it counted anything"

    second = start(tmp_path, spec, kafka_bootstrap, topic_prefix, "exactly_once", "second.log")
    alive = lambda: second.poll() is None  # noqa: E731
    try:
        admitted = sum(admitted_count(spec, c) for c in chunks[: half + 1])
        assert await values_done(kafka_bootstrap, values_topic, admitted, 60, alive) == admitted
        await feed(spec, topology, kafka_bootstrap, chunks[half + 1 :], values_topic, alive)
        got = await kafka_drift(kafka_bootstrap, topology, len(expected), 30, alive)
    finally:
        code = stop_worker(second)
    assert code == 0, (tmp_path / "second.log").read_text()[-3000:]
    # the windows open at the kill continued from the table's counts: every record, including those of
    # windows closed after the restart, equals the uninterrupted (local) run's, and none came twice
    assert got == expected
    print(
        f"drift restart: SIGKILL with {committed} drift values committed and {closed} of {len(expected)} "
        "window records out; after the restart every record equals the uninterrupted run's"
    )
