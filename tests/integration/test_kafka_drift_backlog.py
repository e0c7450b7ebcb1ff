"""Drift under a backlog, against the real broker: the claims example with its own lateness (600 s), the whole
input produced to two partitions before the worker starts. The step agents take up to 250 records of each
partition a batch, so each drift-values message spans hours of event time; with one watermark for the
workflow most events of the partition behind were late. With a watermark per source (drift/windows.py) the
worker counts as many late events as the local runtime on the same claims (none) and publishes the same
drift records and drift audit rows for the windows its lowest partition has passed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.drift_agent import VALUES_BOUNDARY
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import DRIFT, Topology, topic_name
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    group_offsets,
    read_topic,
    row_key,
    start_worker,
    stop_worker,
)
from tests.integration.test_kafka_drift import admitted_count, decode_records, local_drift, values_done

pytestmark = pytest.mark.integration

EVENTS = 2000  # ~36 s apart: ~20 one-hour windows; a batch of 250 of a partition spans ~5 h


async def drift_agent_done(bootstrap: str, group: str, values_topic: str, timeout_s: float) -> bool:
    """Until the drift agent committed every drift-values message (its windows and rows are out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        end = len(await read_topic(bootstrap, values_topic))
        if (await group_offsets(bootstrap, group)).get((values_topic, 0), -1) >= end:
            return True
        await asyncio.sleep(1.0)
    return False


@pytest.mark.parametrize("layout", ["fused", "per-step"])
async def test_a_two_partition_backlog_counts_the_local_runtimes_late_events_and_windows(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, layout: str
) -> None:
    """Per step, most hops forward every record (no journey ends there): their progress moves their
    watermarks (``dwf-drift-progress``), else they would hold the windows for the idle time."""
    spec = tmp_path / "claims.yaml"
    spec.write_text(CLAIMS_SPEC.read_text())
    assert "allowed_lateness_s: 600" in spec.read_text()
    lines = claims_lines(EVENTS, seed=41)
    expected, expected_rows = await local_drift(spec, lines, tmp_path)
    assert not [r for r in expected_rows if r.kind == "drift_late"]  # in order: nothing late
    assert len(expected) >= 15, "too few closed windows to compare"

    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    values_topic = topic_name(pipeline.workflow.name, VALUES_BOUNDARY, topic_prefix)
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    admitted = admitted_count(spec, lines)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)  # backlog first
    extra = ["--per-step-topics"] if layout == "per-step" else []
    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, partitions=2, extra=extra, spec=spec)
    alive = lambda: worker.poll() is None  # noqa: E731
    try:
        assert await values_done(kafka_bootstrap, values_topic, admitted, 120, alive) == admitted
        assert await drift_agent_done(kafka_bootstrap, group, values_topic, 60)
        got = decode_records(topology, await read_topic(kafka_bootstrap, topology.topic(DRIFT)))
        audit = await read_topic(kafka_bootstrap, topology.audit_topic)
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    codec = WireCodec(topology.registry)
    drift_run = f"{pipeline.workflow.name}.drift"
    rows = [r for a in audit for r in codec.decode_rows(a.value) if r.run_id == drift_run]
    late = [r for r in rows if r.kind == "drift_late"]
    assert late == []  # as many as the local runtime: none
    # the windows the lower partition's watermark passed: all but the last one at most (its close may fall
    # between the two partitions' last events), record for record and row for row the local runtime's
    assert len(expected) - 1 <= len(got) <= len(expected)
    assert got == expected[: len(got)]
    assert [row_key(r) for r in rows] == [row_key(r) for r in expected_rows[: len(rows)]]
    assert len(rows) == len(got)  # one row a window closed, no late row
    print(f"drift backlog ({layout}): {admitted} events, {len(got)} of {len(expected)} windows, 0 late")
