"""The local runtime (streams/local/runtime.py) on a two-step workflow: every line is an event that ends in
exactly one outcome (out, rejected, dlq), counted per step and per boundary in the run summary; failing
`reject` rules are counted by rule (a `warn` rule is not); audit rows reach the sink in batches and are all
counted; outputs are written per boundary; a resumed envelope at a terminal is completed there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.base import StepContext
from dana_workflows.processors.ingest import INGEST, admit
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: hops
input: {amount: double, currency: string}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0", message: "amount must be positive"}
        - {id: known, rule: "currency in ['USD', 'EUR']", message: "unknown currency"}
        - {id: small, rule: "amount < 1000.0", message: "large amount", severity: warn}
  - tag:
      transform:
        set:
          big: {expr: "amount > 100.0", type: boolean}
"""

LINES = [
    json.dumps({"amount": 250.0, "currency": "USD"}),  # out (big)
    json.dumps({"amount": -5.0, "currency": "GBP"}),  # rejected: positive and known
    "not json at all",  # dlq at admission
    json.dumps({"amount": 5000.0, "currency": "EUR"}),  # out, with the warn rule failing
    json.dumps({"amount": 0.0, "currency": "USD"}),  # rejected: positive
]


def runtime(tmp_path: Path, rows: list[AuditRow], batch: int = 20_000) -> tuple[LocalRuntime, OutputFiles]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    outputs = OutputFiles(tmp_path / "out", topo)
    clock = iter(range(1_000_000, 10_000_000, 10))
    ctx = StepContext(clock=lambda: next(clock))
    return LocalRuntime(pipeline, topo, outputs, collect_rows(rows), ctx=ctx, audit_batch=batch), outputs


def test_each_event_ends_in_one_outcome_counted_per_step_and_boundary(tmp_path: Path) -> None:
    rows: list[AuditRow] = []
    rt, outputs = runtime(tmp_path, rows)
    seen: list[int] = []
    summary = asyncio.run(rt.run(LINES, on_event=seen.append))
    assert seen == [0, 1, 2, 3, 4]
    assert summary.events == 5
    assert dict(summary.outcomes) == {"out": 2, "rejected": 2, "dlq": 1}
    assert dict(summary.steps[INGEST].counts) == {"emitted": 4, "dlq": 1}
    assert dict(summary.steps["check"].counts) == {"emitted": 2, "rejected": 2}
    assert dict(summary.steps["tag"].counts) == {"emitted": 2}
    assert next(iter(summary.steps)) == INGEST  # first in the summary's step table
    assert dict(summary.rejected_by_rule) == {"positive": 2, "known": 1}  # not the warn rule
    assert dict(summary.errored_by_rule) == {}
    assert summary.audit_rows == len(rows) > 0

    out = read_jsonl(outputs.paths["out"])
    assert [(r["payload"]["amount"], r["payload"]["big"]) for r in out] == [(250.0, True), (5000.0, True)]
    assert [r["payload"]["amount"] for r in read_jsonl(outputs.paths["rejected"])] == [-5.0, 0.0]
    assert len(read_jsonl(outputs.paths["dlq"])) == 1


def test_every_event_has_its_received_row_and_one_terminal_row(tmp_path: Path) -> None:
    rows: list[AuditRow] = []
    rt, _ = runtime(tmp_path, rows)
    asyncio.run(rt.run(LINES))
    runs = {r.run_id for r in rows}
    assert len(runs) == 5
    terminal = {"completed", "rejected", "dlq"}
    for run in runs:
        kinds = [r.kind for r in rows if r.run_id == run]
        assert sum(k in terminal for k in kinds) == 1, kinds


def test_audit_rows_reach_the_sink_in_batches_and_all_are_counted(tmp_path: Path) -> None:
    batches: list[int] = []
    rows: list[AuditRow] = []
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))

    def sink(batch: Any) -> None:
        batches.append(len(batch))
        rows.extend(batch)

    rt = LocalRuntime(pipeline, topo, None, sink, audit_batch=3)
    summary = asyncio.run(rt.run(LINES))
    assert sum(batches) == summary.audit_rows == len(rows)
    assert len(batches) > 1
    assert all(n >= 3 for n in batches[:-1])  # each batch sent once it holds audit_batch rows


def test_without_outputs_nothing_is_written(tmp_path: Path) -> None:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    summary = asyncio.run(LocalRuntime(pipeline, topo, None, collect_rows(rows)).run(LINES[:1]))
    assert dict(summary.outcomes) == {"out": 1}
    assert not (tmp_path / "out").exists()


def test_a_resumed_envelope_at_a_terminal_is_completed_there(tmp_path: Path) -> None:
    rows: list[AuditRow] = []
    rt, outputs = runtime(tmp_path, rows)
    adm = admit(rt.pipeline.workflow, json.dumps({"amount": 1.0, "currency": "USD"}), 0, 5)
    env = adm.envelope.evolve(payload={**adm.envelope.payload, "big": False})

    async def main() -> None:
        await rt.resume(env, "out")
        rt.flush()
        rt.outputs.close()  # type: ignore[union-attr]

    asyncio.run(main())
    (row,) = rows
    assert (row.kind, row.step, row.decision) == ("completed", "out", "out")
    assert rt.summary.outcomes["out"] == 1
    assert [r["payload"]["amount"] for r in read_jsonl(outputs.paths["out"])] == [1.0]


def test_a_resumed_envelope_at_a_step_runs_from_that_step(tmp_path: Path) -> None:
    rows: list[AuditRow] = []
    rt, outputs = runtime(tmp_path, rows)
    adm = admit(rt.pipeline.workflow, json.dumps({"amount": 500.0, "currency": "EUR"}), 0, 5)
    tag_input = rt.pipeline.nodes["tag"].input

    async def main() -> None:
        await rt.resume(adm.envelope, tag_input)
        rt.flush()
        rt.outputs.close()  # type: ignore[union-attr]

    asyncio.run(main())
    assert dict(rt.summary.steps["tag"].counts) == {"emitted": 1}
    assert "check" not in rt.summary.steps or not rt.summary.steps["check"].counts
    assert [r["payload"]["big"] for r in read_jsonl(outputs.paths["out"])] == [True]
