"""Shadow mode on the real broker and a real ClickHouse server: a changed spec sees the live input, writes
only shadow topics and its own audit chains, and `dana-wf shadow report` counts exactly the decisions two
in-process runs of the versions disagree on."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from tests.fixtures.clickhouse import server_audit_rows
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    start_worker,
    stop_worker,
    wait_for_outcomes,
    worker_env,
)

pytestmark = pytest.mark.integration

EVENTS = 300


def new_spec(tmp: Path) -> Path:
    text = CLAIMS_SPEC.read_text().replace("version: 3", "version: 4")
    path = tmp / "claims_v4.yaml"
    path.write_text(text.replace('auto_pay: "amount_usd < 1000.0"', 'auto_pay: "amount_usd < 500.0"'))
    return path


async def local_decisions(spec: Path, lines: list[str], tmp: Path) -> dict[str, str]:
    """run id -> (outcome, route) of an in-process run, the reference for what each version decides."""
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"))
    outputs = OutputFiles(tmp / "out", topology)
    await LocalRuntime(pipeline, topology, outputs, collect_rows([])).run(lines)
    found = {}
    for boundary, path in outputs.paths.items():
        if boundary == "drift":
            continue
        for record in read_jsonl(path):
            found[record["run_id"]] = f"{boundary}/{record['payload'].get('route')}"
    return found


def start_shadow(tmp: Path, bootstrap: str, prefix: str, spec: Path, audit: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dana_workflows.cli", "worker", str(spec), "--shadow-of", str(CLAIMS_SPEC)]
    cmd += ["--broker", bootstrap, "--prefix", prefix, "--partitions", "2", "--session-timeout", "6"]
    cmd += ["--commit-interval", "0.5", "--audit", audit]
    log = (tmp / "shadow.log").open("ab")
    return subprocess.Popen(cmd, env=worker_env(tmp), stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


async def audit_stored(c: ClickHouseServerConfig, runs: set[str], timeout_s: float) -> None:
    """Poll the server until every decided run has rows and every chain verifies (bounded; the assertions
    below read the same rows)."""
    started = time.monotonic()
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        try:
            rows = await asyncio.to_thread(server_audit_rows, c.port, c.database)
        except AuditStoreError:  # no row stored yet: the workers create the database with the first
            rows = []
        if runs <= {r.run_id for r in rows} and verify_rows(rows).ok:
            print(f"audit stored {len(rows)} rows within {time.monotonic() - started:.1f} s")
            return
        await asyncio.sleep(0.5)
    print(f"audit not complete after {timeout_s:.0f} s; the assertions below say what is missing")


async def test_shadow_worker_sees_live_input_and_writes_only_shadow_topics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, clickhouse_database: ClickHouseServerConfig
) -> None:
    c = clickhouse_database
    dsn = f"clickhouse://{c.user}@{c.host}:{c.port}/{c.database}"
    lines = claims_lines(EVENTS, seed=19)
    new = new_spec(tmp_path)
    live_pipeline, new_pipeline = load_pipeline(CLAIMS_SPEC), load_pipeline(new)
    live_topology = Topology(live_pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    shadow_topology = Topology(
        new_pipeline, FileRegistry(tmp_path / "schemas"), prefix=f"{topic_prefix}-shadow"
    )
    await produce_lines(live_pipeline, live_topology, kafka_bootstrap, lines, partitions=2)
    live = start_worker(tmp_path, kafka_bootstrap, topic_prefix, audit=dsn)
    shadow = start_shadow(tmp_path, kafka_bootstrap, topic_prefix, new, dsn)
    try:
        live_out = await wait_for_outcomes(
            kafka_bootstrap, live_topology, EVENTS, 180, lambda: live.poll() is None
        )
        shadow_out = await wait_for_outcomes(
            kafka_bootstrap, shadow_topology, EVENTS, 180, lambda: shadow.poll() is None
        )
        # the audit agents store their last batches: every run a worker decided (not those `produce` refused)
        decisions = [json.loads(d) for out in (live_out, shadow_out) for ds in out.values() for d in ds]
        await audit_stored(c, {d["run_id"] for d in decisions if d["step"] != "ingest"}, 60)
    finally:
        codes = stop_worker(live), stop_worker(shadow)
    assert codes == (0, 0), (tmp_path / "shadow.log").read_text()[-3000:]

    live_runs = [json.loads(d)["run_id"] for ds in live_out.values() for d in ds]
    shadow_runs = [json.loads(d)["run_id"] for ds in shadow_out.values() for d in ds]
    assert len(live_runs) == len(set(live_runs)) == EVENTS  # the live outputs hold the live decisions only
    assert not any(run.endswith("~shadow") for run in live_runs)
    # every event of the live input topic, re-tagged; the few refused by `produce` itself (ingest) never
    # reach the input topic, so neither worker sees them
    entered = [
        json.loads(d)["run_id"] for ds in live_out.values() for d in ds if json.loads(d)["step"] != "ingest"
    ]
    assert 0 < EVENTS - len(entered) < 10
    assert sorted(shadow_runs) == sorted(f"{run}~shadow" for run in entered)

    rows = server_audit_rows(c.port, c.database)
    report = verify_rows(rows)
    assert report.ok and not report.duplicates, [str(f) for f in report.findings[:5]]  # chains of their own
    assert {r.run_id.endswith("~shadow") for r in rows} == {True, False}

    old_local = await local_decisions(CLAIMS_SPEC, lines, tmp_path / "old")
    new_local = await local_decisions(new, lines, tmp_path / "new")
    differ = sum(1 for run in entered if old_local[run] != new_local[run])
    assert differ > 0
    result = CliRunner().invoke(app, ["shadow", "report", str(CLAIMS_SPEC), "--audit", dsn])
    assert result.exit_code == 0, result.output
    both = len(entered)
    assert f"{both} events decided by both, {both - differ} agree, {differ} differ" in result.output
    assert "via triage=auto_pay  ->  out via triage=review" in result.output


def test_shadow_of_another_workflow_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(CLAIMS_SPEC.read_text().replace("workflow: claims-triage", "workflow: payouts"))
    result = CliRunner().invoke(
        app, ["worker", str(other), "--shadow-of", str(CLAIMS_SPEC), "--broker", "127.0.0.1:1"]
    )
    assert result.exit_code == 1  # refused from the specs: the broker (a closed port) is never asked
    assert "shadow mode runs a new version of the same workflow" in result.output
