"""newcomer4 N4-1 on the broker: events produced under claims.yaml v3 and still waiting on the input topic
when a worker of v4 (a new required input field `region`) starts are each rejected with their reason
(`schema.region: 'region' is required ...`) and an audit row that ends their run's chain; none is poison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import header_map
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    read_store_rows,
    read_topic,
    start_worker,
    stop_worker,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

EVENTS = 30


async def test_pending_v3_events_are_rejected_by_a_v4_worker_with_audit_outcomes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    # well-formed events only: each is admitted by produce (rows `received`, `emitted`) and waits on .in
    lines = [line for line in claims_lines(200, seed=7) if '"amount": -' not in line]
    lines = [line for line in lines if json.loads(line).get("currency")][:EVENTS]
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)

    text = CLAIMS_SPEC.read_text()
    assert "version: 3\n" in text and "  channel: string?" in text
    v4 = tmp_path / "claims_v4.yaml"
    v4.write_text(
        text.replace("version: 3\n", "version: 4\n").replace(
            "  channel: string?", "  region: string\n  channel: string?"
        )
    )
    worker = start_worker(
        tmp_path, kafka_bootstrap, topic_prefix, audit=f"chdb://{tmp_path / 'audit'}", spec=v4
    )
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, EVENTS, 120, alive=lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    log = (tmp_path / "worker.log").read_text()
    assert code == 0, log[-3000:]

    dlq = await read_topic(kafka_bootstrap, topology.topic("dlq"))
    assert [header_map(r.headers).get("dwf-error") for r in dlq] == []  # no poison, no dlq at all
    rejected = await read_topic(kafka_bootstrap, topology.topic("rejected"))
    reasons = {header_map(r.headers)["dwf-error"] for r in rejected}
    assert reasons == {
        "schema.region: 'region' is required (the event was written before the spec required it)"
    }
    runs = {json.loads(d)["run_id"] for ds in got.values() for d in ds}
    assert len(runs) == EVENTS and {b for b, ds in got.items() if ds} == {"rejected"}

    rows = read_store_rows(tmp_path / "audit")
    report = verify_rows(rows)
    assert report.ok, [str(f) for f in report.findings][:5]
    last = {r.run_id: r for r in sorted(rows, key=lambda r: (r.run_id, r.seq))}
    assert set(last) == runs  # every received run ...
    assert {(r.kind, r.workflow_version) for r in last.values()} == {("rejected", 3)}  # ... ends rejected
