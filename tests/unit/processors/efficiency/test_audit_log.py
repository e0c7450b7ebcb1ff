"""Efficiency rows in a real (embedded) ClickHouse audit store: summaries read back by run and time,
feedback and calibration rows appended on their own hash chains, which verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.efficiency.audit_log import append_row, efficiency_rows, summaries
from dana_workflows.processors.efficiency.records import records_from_rows
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.chdb_store import ChdbAuditStore

pytestmark = pytest.mark.unit


def _step_row(run: str, ts: int, tier: str, correct: bool | None) -> object:
    env = Envelope(f"{run}/in", run, "wf", 1, "decide", {}, ts)
    summary = {
        "step": "decide",
        "calls": {"combined": 1},
        "risk": {"tier": tier, "verify": correct is not None},
        "confidence": 0.9,
        "naive_calls": 3,
        "tokens": {"input": 10, "output": 5},
    }
    if correct is not None:
        summary["first_correct"] = correct
    return transition(env, "emitted", "decide", ts, details={"dwf.eff": summary})


def test_rows_read_back_and_chains_appended(tmp_path: Path) -> None:
    store = ChdbAuditStore(tmp_path / "audit")
    try:
        store.ensure_schema()
        store.insert([_step_row("run-a", 1_000, "low", True), _step_row("run-b", 5_000, "low", None)])
        everything = list(efficiency_rows(store))
        assert [r[0] for r in everything] == ["run-a", "run-b"]
        assert [r[0] for r in efficiency_rows(store, run="run-b")] == ["run-b"]
        assert [r[0] for r in efficiency_rows(store, since_us=2_000, workflow="wf")] == ["run-b"]
        assert list(efficiency_rows(store, workflow="other")) == []
        first = append_row(
            store,
            "wf",
            1,
            "wf.feedback",
            "feedback",
            "decide",
            {"run_id": "run-b", "step": "decide", "correct": False},
            6_000,
            decision="wrong",
        )
        second = append_row(
            store,
            "wf",
            1,
            "wf.feedback",
            "feedback",
            "decide",
            {"run_id": "run-a", "step": "decide", "correct": True},
            7_000,
            decision="correct",
        )
        assert (first.seq, second.seq, second.prev_hash) == (0, 1, first.hash)  # one chain, linked
        rows = list(efficiency_rows(store))
        assert len(list(summaries(iter(rows)))) == 2  # feedback rows carry no summary
        judged = sorted((r.tier, r.correct) for r in records_from_rows(rows))
        assert judged == [("low", False), ("low", True)]  # run-b labelled by the person
        stored = store.query("SELECT * FROM dwf.events WHERE run_id = 'wf.feedback' ORDER BY seq")
        assert json.loads(stored.rows[0][stored.columns.index("details")])["correct"] is False
    finally:
        store.close()


def test_a_reviewers_override_is_calibration_feedback(tmp_path: Path) -> None:
    """An override that changed the llm step's answer marks that answer wrong; one that kept it, right."""
    from dana_workflows.processors.resume import OVERRIDE

    def override(run: str, before: dict[str, object], after: dict[str, object]) -> object:
        env = Envelope(f"{run}/x", run, "wf", 1, "decide", {}, 9_000, chain_seq=1)
        details = {"reviewer": "al", "before": before, "after": after, "decided_at_us": 9, "step": "decide"}
        return transition(env, OVERRIDE, "decide", 9_000, decision="x", details=details)

    store = ChdbAuditStore(tmp_path / "audit")
    try:
        store.ensure_schema()
        store.insert(
            [
                _step_row("run-a", 1_000, "low", True),  # the verification said right: the person says wrong
                _step_row("run-b", 2_000, "medium", None),  # not verified: the person kept the answer
                override("run-a", {"label": "x"}, {"label": "y"}),
                override("run-b", {"label": "x"}, {"label": "x"}),
            ]
        )
        rows = list(efficiency_rows(store, workflow="wf"))
        assert sorted(r[1] for r in rows) == ["emitted", "emitted", "override", "override"]
        assert len(list(summaries(iter(rows)))) == 2  # overrides carry no summary
        judged = sorted((r.tier, r.correct) for r in records_from_rows(rows))
        assert judged == [("low", False), ("medium", True)]
    finally:
        store.close()
