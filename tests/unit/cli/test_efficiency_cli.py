"""`dana-wf efficiency report | calibrate` and `dana-wf feedback` in-process, on an embedded ClickHouse
audit store holding llm step rows written as the step writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.processors.audit_trail import transition
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.chdb_store import ChdbAuditStore

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "docs" / "examples" / "refunds" / "refunds.yaml"


def _row(run: str, ts: int, tier: str, verify: bool, correct: bool | None, calls: dict[str, int]) -> AuditRow:
    env = Envelope(f"{run}/in", run, "refund-decisions", 1, "decide", {}, ts)
    summary = {
        "step": "decide",
        "calls": calls,
        "avoided": {"combined": 1, **({} if verify else {"bypass": 1})},
        "risk": {"tier": tier, "verify": verify},
        "confidence": 0.9,
        "naive_calls": 3,
        "tokens": {"input": 100, "output": 10},
        "settled_by": "call",
    }
    if correct is not None:
        summary["first_correct"] = correct
    return transition(env, "emitted", "decide", ts, details={"dwf.eff": summary})


@pytest.fixture
def audit(tmp_path: Path) -> str:
    store = ChdbAuditStore(tmp_path / "audit")
    rows = [_row(f"run-{i}", 1_000 + i, "low", True, True, {"combined": 1, "verify": 1}) for i in range(400)]
    rows.append(_row("run-bypassed", 9_000, "low", False, None, {"combined": 1}))
    try:
        store.ensure_schema()
        store.insert(rows)
    finally:
        store.close()
    return f"chdb://{tmp_path / 'audit'}"


def test_report_counts_calls_against_the_naive_protocol(audit: str) -> None:
    result = CliRunner().invoke(app, ["efficiency", "report", "--audit", audit, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["events"], figures["calls"], figures["naive_calls_estimate"]) == (401, 801, 1203)
    assert figures["ratio_to_naive"] == round(801 / 1203, 4)
    assert figures["bypass_decisions"] == {"low:bypass": 1, "low:verify": 400}
    one = CliRunner().invoke(app, ["efficiency", "report", "run-bypassed", "--audit", audit, "--json"])
    assert json.loads(one.output)["calls"] == 1
    table = CliRunner().invoke(app, ["efficiency", "report", "--audit", audit])
    assert "share of savings" in table.output and "801 calls" in table.output
    empty = CliRunner().invoke(app, ["efficiency", "report", "nobody", "--audit", audit])
    assert empty.exit_code == 0 and "no llm step events" in empty.output
    bad = CliRunner().invoke(app, ["efficiency", "report", "--since", "soon", "--audit", audit])
    assert bad.exit_code == 2 and "ISO time" in bad.output


def test_feedback_then_calibration_versions_and_audit_rows(audit: str, tmp_path: Path) -> None:
    runner = CliRunner()
    fb = runner.invoke(app, ["feedback", "run-bypassed", "--step", "decide", "--wrong", "--audit", audit])
    assert fb.exit_code == 0, fb.output
    unknown = runner.invoke(app, ["feedback", "run-x", "--step", "decide", "--correct", "--audit", audit])
    assert unknown.exit_code == 2 and "no answer of an llm step" in unknown.output
    out = tmp_path / "cal"
    first = runner.invoke(app, ["efficiency", "calibrate", str(SPEC), "--audit", audit, "--out", str(out)])
    assert first.exit_code == 0, first.output
    cal = json.loads((out / "refund-decisions.v1.json").read_text())
    low = cal["steps"]["decide"]["low"]
    # 400 verified right + the bypassed one a person called wrong: 1 wrong in 401 at confidence 0.9
    assert (low["records"], low["bypassed"], low["threshold"]) == (401, 0, None)  # Wilson upper > 1%
    looser = runner.invoke(
        app, ["efficiency", "calibrate", str(SPEC), "--audit", audit, "--out", str(out), "--bound", "0.05"]
    )
    assert looser.exit_code == 0 and "calibration v2" in looser.output
    assert (
        json.loads((out / "refund-decisions.json").read_text())["steps"]["decide"]["low"]["threshold"] == 0.9
    )
    wrong = runner.invoke(app, ["efficiency", "calibrate", str(SPEC), "--audit", audit, "--bound", "2"])
    assert wrong.exit_code == 2 and "between 0 and 1" in wrong.output
    store = ChdbAuditStore(Path(audit.removeprefix("chdb://")))
    try:
        kinds = store.query(
            "SELECT kind, decision FROM dwf.events WHERE kind IN ('feedback', 'calibration')"
        ).rows
    finally:
        store.close()
    assert sorted(kinds) == [("calibration", "v1"), ("calibration", "v2"), ("feedback", "wrong")]


def test_calibrate_refuses_a_spec_without_llm_steps(tmp_path: Path, audit: str) -> None:
    spec = tmp_path / "plain.yaml"
    spec.write_text(
        "workflow: plain\ninput: {a: long}\nsteps:\n  - v: {validate: [{id: p, rule: 'a > 0'}]}\n"
    )
    result = CliRunner().invoke(app, ["efficiency", "calibrate", str(spec), "--audit", audit])
    assert result.exit_code == 2 and "no llm step" in result.output


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--correct", "--wrong"], "--correct and --wrong together: give one of them"),
        (["--wrong", "--correct"], "--correct and --wrong together: give one of them"),
        ([], "give --correct or --wrong"),
    ],
)
def test_feedback_needs_exactly_one_verdict(audit: str, flags: list[str], expected: str) -> None:
    """NEWCOMER2 FB2: `--correct --wrong` recorded `wrong` (click's last flag won) with no word."""
    result = CliRunner().invoke(
        app, ["feedback", "run-bypassed", "--step", "decide", *flags, "--audit", audit]
    )
    assert result.exit_code == 2 and expected in result.output, result.output
    store = ChdbAuditStore(Path(audit.removeprefix("chdb://")))
    try:
        assert store.query("SELECT count() FROM dwf.events WHERE kind = 'feedback'").rows == [(0,)]
    finally:
        store.close()


def test_feedback_on_a_misspelt_step_names_the_runs_step(audit: str) -> None:
    runner = CliRunner()
    near = runner.invoke(app, ["feedback", "run-bypassed", "--step", "decid", "--correct", "--audit", audit])
    assert near.exit_code == 2, near.output
    assert "no answer of an llm step 'decid' (fix: did you mean 'decide'?)" in near.output
    far = runner.invoke(app, ["feedback", "run-bypassed", "--step", "zz", "--correct", "--audit", audit])
    assert far.exit_code == 2 and "(fix: use one of: decide)" in far.output, far.output
