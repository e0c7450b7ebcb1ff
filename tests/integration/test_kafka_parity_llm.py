"""Parity on the LLM example: a Kafka worker running docs/examples/claims/claims_llm.yaml decides and audits
exactly what the local runtime does, under at-least-once and exactly-once.

Both runtimes call the project's OpenAI-compatible test server (in this process) with the example's own
script (docs/examples/claims/llm_script.yaml: the reply depends on the claim text in the prompt). The local
runtime runs in this process as ``dana-wf run`` wires it (``attach_extras``: the LLM client from settings);
the worker is a ``dana-wf worker`` subprocess on the real broker with ``DWF_LLM_DEFAULT__BASE_URL``, as a
deployment would. Compared: the decision records per output topic (multisets), every audit row of every
event run ordered by seq, all columns and every detail but time: ``ts_us``, ``duration_us``, the hashes that
cover them, and the LLM row details that are wall time (``dwf.llm.latency_ms``, ``dwf.llm.call_ms``) or
the server's numbering of its replies in arrival order (``gen_ai.response.id``). Both chains verify.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import load_settings
from dana_workflows.devservices.llm_server.script import Script, load_script
from dana_workflows.processors.base import StepContext
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.local.extras import attach_extras
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from tests.fixtures.llm_server import LLMServerHandle
from tests.integration.kafka_support import (
    multiset,
    outcomes_then_stop,
    read_store_rows,
    rows_by_run,
    start_worker,
    worker_env,
)

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"
SPEC = EXAMPLE / "claims_llm.yaml"
LLM_STEP = "triage.review.fraud_risk"
EVENTS = 300  # the first lines of the example's events: about a third reach the LLM step
NOT_COMPARED_DETAILS = ("dwf.llm.latency_ms", "dwf.llm.call_ms", "gen_ai.response.id")


@pytest.fixture
def llm_server_script() -> Script:
    return load_script(EXAMPLE / "llm_script.yaml")


def untimed(row: AuditRow) -> AuditRow:
    """The row without the details that measure time or number the server's replies (at any depth)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in NOT_COMPARED_DETAILS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return dataclasses.replace(row, details=canonical_json(strip(json.loads(row.details))))


async def run_local(
    lines: list[str], tmp: Path, server: LLMServerHandle
) -> tuple[dict[str, list[str]], list[AuditRow]]:
    pipeline = load_pipeline(SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "local-schemas"), prefix="dwf")
    outputs = OutputFiles(tmp / "local-out", topology)
    settings = load_settings(
        data_dir=tmp / "local-data",
        llm_cache_path=tmp / "local-llm-cache",  # a fresh cache: every call reaches the server
        llm_default={"base_url": server.base_url},
    )
    ctx = StepContext(clock=wall_clock_us)
    closers = attach_extras(pipeline, ctx, settings)
    rows: list[AuditRow] = []
    try:
        await LocalRuntime(pipeline, topology, outputs, collect_rows(rows), ctx).run(lines)
    finally:
        for close in closers:
            await close()
    decisions = {b: [canonical_json(r) for r in read_jsonl(p)] for b, p in outputs.paths.items()}
    return decisions, rows


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_the_llm_example_decides_and_audits_alike_in_both_runtimes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle, guarantee: str
) -> None:
    lines = (EXAMPLE / "events.jsonl").read_text().splitlines()[:EVENTS]
    local_decisions, local_rows = await run_local(lines, tmp_path, llm_server)
    local_calls = llm_server.count(200)
    assert local_calls > 50  # the example's review claims with a description: the LLM step is exercised
    llm_server.reset_log()

    pipeline = load_pipeline(SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    audit_dir = tmp_path / "audit"
    worker = start_worker(
        tmp_path,
        kafka_bootstrap,
        topic_prefix,
        guarantee,
        f"chdb://{audit_dir}",
        spec=SPEC,
        env={"DWF_LLM_DEFAULT__BASE_URL": llm_server.base_url},
    )
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    got = await outcomes_then_stop(worker, tmp_path / "worker.log", kafka_bootstrap, topology, EVENTS, group)
    kafka_rows = read_store_rows(audit_dir)

    # the same calls: one per review claim with a description, none twice
    assert llm_server.count(200) == local_calls == llm_server.count()
    # decisions: the same multiset per terminal topic, every event once
    assert set(got) == {"out", "rejected", "dlq"}
    assert sum(len(d) for d in got.values()) == EVENTS
    for boundary, records in got.items():
        assert multiset(records) == multiset(local_decisions.get(boundary, [])), boundary
    assert any(json.loads(d)["payload"].get("risk") == "high" for d in got["out"])  # scripted replies arrived
    # audit: both chains whole, no duplicate; each event run holds the same rows but time
    for rows in (kafka_rows, local_rows):
        report = verify_rows(rows)
        assert report.ok and not report.duplicates, [str(f) for f in report.findings[:5]]
    event_runs = {r.run_id for r in local_rows if r.kind == "received"}
    assert len(event_runs) == EVENTS
    assert {r.run_id for r in kafka_rows} - event_runs <= {f"{pipeline.workflow.name}.drift"}
    kafka_by_run = rows_by_run([untimed(r) for r in kafka_rows if r.run_id in event_runs])
    local_by_run = rows_by_run([untimed(r) for r in local_rows if r.run_id in event_runs])
    assert kafka_by_run.keys() == local_by_run.keys()
    differ = [run for run in local_by_run if kafka_by_run[run] != local_by_run[run]]
    assert not differ, (len(differ), kafka_by_run[differ[0]], local_by_run[differ[0]])
    # the model inventory of the worker's audit store (docs/compliance.md): a use is a row whose details name
    # the model used or asked for; first and last use, rows and runs follow from those rows
    uses = [(r, json.loads(r.details)) for r in kafka_rows]
    uses = [(r, d) for r, d in uses if "dwf.llm.model_used" in d or "gen_ai.request.model" in d]
    assert uses
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "dana_workflows.cli",
            "audit",
            "models",
            "--json",
            "--audit",
            f"chdb://{audit_dir}",
        ],
        capture_output=True,
        text=True,
        env=worker_env(tmp_path),
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    inventory = {e["id"]: e for e in map(json.loads, listed.stdout.splitlines()) if e["rows"]}
    used = {d.get("dwf.llm.model_used") or d.get("gen_ai.request.model") for _, d in uses}
    assert set(inventory) == used
    for model, entry in inventory.items():
        mine = [r for r, d in uses if (d.get("dwf.llm.model_used") or d.get("gen_ai.request.model")) == model]
        assert entry["rows"] == len(mine) and entry["runs"] == len({r.run_id for r in mine})
        assert (entry["first_use_us"], entry["last_use_us"]) == (
            min(r.ts_us for r in mine),
            max(r.ts_us for r in mine),
        )
    llm_rows = [r for r in local_rows if r.step == LLM_STEP]
    assert {r.kind for r in llm_rows} >= {"perceive", "operate", "enforce", "emitted"}
