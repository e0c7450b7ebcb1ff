"""The local runtime resumes events in process (streams/local/resume.py, LocalRuntime.resume): a replayed
dlq event and a reviewer's decision continue their own hash chains to one new outcome, and the outcomes
are appended to the run's files only when released (after the audit rows are stored).

The workflow's function fails on the label "odd" until the test "fixes" it (FIXED), as a deployed fix
would; what each event must end in follows from the spec: a score of at least 0.5 is approved (out),
below it is held (the terminal branch hold)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import DLQ, OUT, compile_pipeline
from dana_workflows.processors.resume import after_step, apply_override, mark_replayed, replay_point
from dana_workflows.processors.run_history import history_of
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.resume import ResumeItem, resume_locally
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

FIXED = {"on": False}


def score(payload: dict[str, Any]) -> dict[str, Any]:
    if payload["label"] == "odd" and not FIXED["on"]:
        raise ValueError("no score for odd")
    return {"score": 0.9 if payload["label"] in ("good", "odd") else 0.1}


SPEC = """\
workflow: scoring
version: 1
input: {id: string, label: string}
steps:
  - score:
      transform:
        function: "tests.unit.streams.test_local_resume:score"
        outputs: {score: double}
  - decide:
      route:
        approve: "score >= 0.5"
        hold: {when: "true", terminal: true}
"""


def clock() -> int:
    return 1_000


def test_replay_and_decision_continue_their_chains(tmp_path: Path) -> None:
    FIXED["on"] = False
    pipeline = compile_pipeline(parse_spec(SPEC))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    out_dir = tmp_path / "out"
    runtime = LocalRuntime(
        pipeline, topology, OutputFiles(out_dir, topology), collect_rows(rows), StepContext(clock)
    )
    lines = ['{"id": "a", "label": "good"}', '{"id": "b", "label": "odd"}', '{"id": "c", "label": "bad"}']
    summary = asyncio.run(runtime.run(lines))
    assert summary.outcomes == {OUT: 1, DLQ: 1, "hold": 1}
    dead = read_jsonl(out_dir / "dwf.scoring.dlq.jsonl")[0]
    held = read_jsonl(out_dir / "dwf.scoring.hold.jsonl")[0]

    FIXED["on"] = True
    by_run = {r.run_id: [x for x in rows if x.run_id == r.run_id] for r in rows}
    replay_env = _envelope(dead)
    history = history_of(by_run[replay_env.run_id])
    assert history is not None
    dlq_row = history.last_of("dlq")
    assert dlq_row is not None
    _at_tail(replay_env, history.tail)
    point = replay_point(pipeline, replay_env, dlq_row.reason)
    first = mark_replayed(replay_env, dlq_row, clock(), 1)

    # the reviewer reverses the route of the held event: after 'decide' it goes on to out
    decided = _envelope(held)
    decided_history = history_of(by_run[decided.run_id])
    assert decided_history is not None
    _at_tail(decided, decided_history.tail)
    node = pipeline.nodes["decide"]
    override = apply_override(decided, node, {"route": "approve"}, reviewer="al", reason="ok", now_us=clock())
    items = [
        ResumeItem(replay_env, first, point),
        ResumeItem(decided, override, after_step(pipeline, node, decided.payload)),
    ]
    resumed = asyncio.run(resume_locally(pipeline, topology, out_dir, items, StepContext(clock)))

    assert resumed.outputs.outcomes() == {replay_env.run_id: OUT, decided.run_id: OUT}
    assert [r.kind for r in resumed.rows if r.run_id == replay_env.run_id] == [
        "replayed",
        "emitted",  # score, fixed
        "routed",  # decide: approve
        "completed",
    ]
    assert [r.kind for r in resumed.rows if r.run_id == decided.run_id] == ["override", "completed"]
    report = verify_rows([*rows, *resumed.rows])  # the old and new rows: one unbroken chain per event
    assert report.ok and report.runs == 3
    # nothing is written before release; then appended after the run's own line
    assert [r["payload"]["id"] for r in read_jsonl(out_dir / "dwf.scoring.out.jsonl")] == ["a"]
    resumed.outputs.release()
    assert [r["payload"]["id"] for r in read_jsonl(out_dir / "dwf.scoring.out.jsonl")] == ["a", "b", "c"]


def test_a_decision_can_complete_the_event_at_a_terminal(tmp_path: Path) -> None:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    env = Envelope("r9/score", "r9", "scoring", 1, "decide", {"id": "z", "label": "x", "score": 0.7})
    node = pipeline.nodes["decide"]
    row = apply_override(env, node, {"route": "hold"}, reviewer="al", reason="hold it", now_us=5)
    item = ResumeItem(env, row, after_step(pipeline, node, env.payload))
    resumed = asyncio.run(resume_locally(pipeline, topology, tmp_path / "out", [item], StepContext(clock)))
    assert [(r.kind, r.step, r.decision) for r in resumed.rows] == [
        ("override", "decide", 'route="hold"'),
        ("completed", "hold", "hold"),
    ]
    assert resumed.outputs.outcomes() == {"r9": "hold"}
    assert verify_rows(resumed.rows).ok


def test_a_resumed_payload_that_does_not_fit_its_boundary_goes_to_dlq(tmp_path: Path) -> None:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    env = Envelope("r8/x", "r8", "scoring", 1, "decide", {"id": "z", "label": "x", "score": "high"})
    row = AuditRow("scoring", 1, "r8", 0, "r8/x", "decide", "override")
    resumed = asyncio.run(
        resume_locally(
            pipeline, topology, tmp_path / "out", [ResumeItem(env, row, _hold())], StepContext(clock)
        )
    )
    assert resumed.outputs.outcomes() == {"r8": DLQ}
    assert [r.kind for r in resumed.rows] == ["override", "dlq"]


def _hold() -> Any:
    from dana_workflows.processors.resume import ResumePoint

    return ResumePoint("hold", None)


def _envelope(rec: dict[str, Any]) -> Envelope:
    return Envelope(
        rec["event_id"],
        rec["run_id"],
        rec["workflow"],
        rec["workflow_version"],
        rec["step"],
        rec["payload"],
        provenance=rec["provenance"],
    )


def _at_tail(env: Envelope, tail: AuditRow) -> None:
    env.chain_seq, env.chain_hash = tail.seq + 1, tail.hash
