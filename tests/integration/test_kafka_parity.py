"""The Kafka runtime decides exactly what the in-process runtime decides, and audits the same rows.

Local runtime in this process; Kafka runtime as a real worker subprocess on the real broker.
Compared: outputs, rejections and dlq entries as decision records (multisets per topic), and audit rows
per run ordered by seq, all columns but ts_us, duration_us, prev_hash and hash.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    multiset,
    outcomes_then_stop,
    read_store_rows,
    rows_by_run,
    start_worker,
)

pytestmark = pytest.mark.integration

EVENTS = 600


async def run_local(lines: list[str], tmp: Path) -> tuple[dict[str, list[str]], list]:  # type: ignore[type-arg]
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "local-schemas"), prefix="dwf")
    outputs = OutputFiles(tmp / "local-out", topology)
    rows: list = []  # type: ignore[type-arg]
    await LocalRuntime(pipeline, topology, outputs, collect_rows(rows)).run(lines)
    decisions = {b: [canonical_json(r) for r in read_jsonl(p)] for b, p in outputs.paths.items()}
    return decisions, rows


def assert_same_as_local(
    got: dict[str, list[str]],
    local_decisions: dict[str, list[str]],
    kafka_rows: list[AuditRow],
    local_rows: list[AuditRow],
) -> set[str]:
    """The worker's decisions per terminal topic equal the local runtime's (as multisets), its chains are
    whole with no duplicate row, and each event run holds the same rows; returns the event runs (drift
    windows, '<wf>.drift' runs, have their own parity test: test_kafka_drift.py)."""
    for boundary in got:
        assert multiset(got[boundary]) == multiset(local_decisions.get(boundary, [])), boundary
    report = verify_rows(kafka_rows)
    assert report.ok and not report.duplicates, [str(f) for f in report.findings[:5]]
    event_runs = {r.run_id for r in local_rows if r.kind == "received"}
    assert rows_by_run([r for r in kafka_rows if r.run_id in event_runs]) == rows_by_run(
        [r for r in local_rows if r.run_id in event_runs]
    )
    return event_runs


async def test_kafka_runtime_matches_local_runtime(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    lines = claims_lines(EVENTS, seed=11)
    local_decisions, local_rows = await run_local(lines, tmp_path)

    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    audit_dir = tmp_path / "audit"
    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, audit=f"chdb://{audit_dir}")
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    got = await outcomes_then_stop(
        worker, tmp_path / "worker.log", kafka_bootstrap, topology, EVENTS, group, 120
    )

    counts = {b: len(d) for b, d in got.items()}
    assert sum(counts.values()) == EVENTS, counts
    kafka_rows = read_store_rows(audit_dir)
    event_runs = assert_same_as_local(got, local_decisions, kafka_rows, local_rows)
    assert {r.run_id for r in kafka_rows} - event_runs <= {f"{pipeline.workflow.name}.drift"}
    # every outcome kind is exercised by this input
    assert {json.loads(d)["step"] for d in got["rejected"]} >= {"ingest", "check_claim", "enforce_objective"}
