"""Human review and dlq replay end to end through the CLI, in the local runtime: a real `dana-wf run` sends
events to dlq (a transform function that raises on one input) and to review (the step's recovery ladder
sends a high-risk event there), then `dana-wf dlq replay` (after the function is fixed) and `dana-wf review
decide` continue them; `dana-wf audit verify` passes and `dana-wf audit report` shows the override.

Expected outcomes come from the workflow's definition: the fixed function scores every label, a score of
at least 0.5 routes to `approve`, below to `hold` (terminal); a decided event continues after the step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.review_workflow import BROKEN, EVENTS, FIXED, SPEC

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def dana_wf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dana-wf")
    cmd = [exe] if exe else [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    base["PYTHONPATH"] = os.pathsep.join([str(cwd / "fn"), str(ROOT), base.get("PYTHONPATH", "")])
    base["DWF_DATA_DIR"] = str(cwd / "data")
    return subprocess.run([*cmd, *args], cwd=cwd, env=base, capture_output=True, text=True, timeout=300)


def lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


def by_id(path: Path) -> dict[object, dict[str, object]]:
    return {rec["payload"]["id"]: rec for rec in lines(path)}  # type: ignore[index]


def first_run(tmp_path: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    """`dana-wf run` of the scoring workflow with the broken scorer: the audit DSN and the run."""
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "scorer.py").write_text(BROKEN)
    (tmp_path / "scoring.yaml").write_text(SPEC)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    audit = f"chdb://{tmp_path / 'audit'}"
    run = dana_wf(
        "run", "scoring.yaml", "--input", "events.jsonl", "--out", "out", "--audit", audit, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return audit, run


def test_run_replay_review_verify_report(tmp_path: Path) -> None:
    audit, run = first_run(tmp_path)
    steps = run.stdout[run.stdout.index("steps") :]
    header = next(line for line in steps.splitlines() if "emitted" in line)
    assert "review" in header  # the steps table counts the event the ladder sent to review
    out = tmp_path / "out"
    assert set(by_id(out / "dwf.scoring.out.jsonl")) == {"a"}
    assert set(by_id(out / "dwf.scoring.hold.jsonl")) == {"c"}
    dlq = by_id(out / "dwf.scoring.dlq.jsonl")
    review = by_id(out / "dwf.scoring.review.jsonl")
    assert set(dlq) == {"b"} and set(review) == {"d"}
    dlq_run, review_run = str(dlq["b"]["run_id"]), str(review["d"]["run_id"])

    common = ("scoring.yaml", "--out", "out", "--audit", audit)
    # a range with nothing in it: a clear message, nothing changed
    empty = dana_wf("dlq", "replay", *common, "--until", "2000-01-01T00:00:00Z", cwd=tmp_path)
    assert empty.returncode == 2 and "no dead-lettered events in that time range" in empty.stderr
    # an unknown review event: a clear message, nothing changed
    unknown = dana_wf(
        "review", "decide", *common, "nope", "--decision", "score=1.0", "--reason", "x", cwd=tmp_path
    )
    assert unknown.returncode == 2 and "no event nope" in unknown.stderr
    # a decision that does not fit the step's output: named, nothing changed
    wrong = dana_wf(
        "review", "decide", *common, review_run, "--decision", "score=high", "--reason", "x", cwd=tmp_path
    )
    assert wrong.returncode == 2 and "'score' must be double" in wrong.stderr
    blank = dana_wf(
        "review", "decide", *common, review_run, "--decision", "score=1.0", "--reason", " ", cwd=tmp_path
    )
    assert blank.returncode == 2 and "--reason is empty" in blank.stderr
    # d's step failed before writing score: keeping its output would send it to dlq after a final decision
    kept = dana_wf(
        "review", "decide", *common, review_run, "--decision", "keep", "--reason", "x", cwd=tmp_path
    )
    assert kept.returncode == 2 and "did not write score:double" in kept.stderr
    assert set(by_id(out / "dwf.scoring.out.jsonl")) == {"a"}  # nothing moved

    # after the fix, the dlq'd event runs through the current version: 'odd' now scores 0.9 -> out
    (tmp_path / "fn" / "scorer.py").write_text(FIXED)
    replay = dana_wf("dlq", "replay", *common, "--event", dlq_run, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert set(by_id(out / "dwf.scoring.out.jsonl")) == {"a", "b"}
    listed = dana_wf("dlq", "list", *common, cwd=tmp_path)
    assert listed.returncode == 0 and dlq_run in listed.stdout and "no score for label odd" in listed.stdout
    in_range = dana_wf("dlq", "replay", *common, "--since", "2000-01-01", cwd=tmp_path)  # only b, replayed
    assert in_range.returncode == 2 and "replayed already" in in_range.stderr
    bad_time = dana_wf("dlq", "replay", *common, "--since", "yesterday", cwd=tmp_path)
    assert bad_time.returncode == 2 and "is not a time" in bad_time.stderr
    unchosen = dana_wf("dlq", "replay", *common, cwd=tmp_path)
    assert unchosen.returncode == 2 and "choose the events" in unchosen.stderr
    again = dana_wf("dlq", "replay", *common, "--event", dlq_run, cwd=tmp_path)
    assert again.returncode == 2 and "replayed already" in again.stderr
    assert [r["payload"]["id"] for r in lines(out / "dwf.scoring.out.jsonl")].count("b") == 1  # type: ignore[index]

    waiting = dana_wf("review", "list", *common, cwd=tmp_path)
    assert waiting.returncode == 0 and review_run in waiting.stdout and "waiting" in waiting.stdout
    shown = dana_wf("review", "show", "scoring.yaml", review_run, "--out", "out", cwd=tmp_path)
    assert shown.returncode == 0 and "a decision may set: score:double" in shown.stdout
    assert "amount too large to score" in shown.stdout
    assert "chain_hash" not in shown.stdout and "produced_at" not in shown.stdout  # no placeholder fields
    # the reviewer decides d: the score is set, the event continues to the route -> approve... out
    decide = dana_wf(
        "review", "decide", *common, review_run, "--decision", "score=0.8",
        "--reason", "checked the invoice", "--reviewer", "alice", cwd=tmp_path,
    )  # fmt: skip
    assert decide.returncode == 0, decide.stdout + decide.stderr
    assert by_id(out / "dwf.scoring.out.jsonl")["d"]["payload"]["score"] == 0.8  # type: ignore[index]
    twice = dana_wf(
        "review", "decide", *common, review_run, "--decision", "score=0.1", "--reason", "x", cwd=tmp_path
    )
    assert twice.returncode == 2 and "decided already" in twice.stderr
    decided = dana_wf("review", "list", *common, cwd=tmp_path)
    assert "decided: score=0.8" in decided.stdout and "waiting" not in decided.stdout

    verify = dana_wf("audit", "verify", "--audit", audit, cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    rows = dana_wf(
        "audit", "sql", "--audit", audit, "--json",
        "SELECT run_id, kind, details FROM dwf.events WHERE kind IN ('override', 'replayed') ORDER BY kind",
        cwd=tmp_path,
    )  # fmt: skip
    found = [json.loads(x) for x in rows.stdout.splitlines() if x]
    assert [(r["run_id"], r["kind"]) for r in found] == [(review_run, "override"), (dlq_run, "replayed")]
    override = json.loads(found[0]["details"])
    assert override["reviewer"] == "alice" and override["after"] == {"score": 0.8}
    assert override["before"] == {"score": None}
    assert json.loads(found[1]["details"])["original_run_id"] == dlq_run
    terminals = dana_wf(
        "audit", "sql", "--audit", audit, "--json",
        f"SELECT count() AS n FROM dwf.events WHERE run_id = '{dlq_run}' AND kind IN ('completed', 'dlq')",
        cwd=tmp_path,
    )  # fmt: skip
    assert json.loads(terminals.stdout.splitlines()[0])["n"] == 2  # the dlq, then exactly one completion
    report = dana_wf("audit", "report", review_run, "--audit", audit, cwd=tmp_path)
    assert report.returncode == 0 and "override" in report.stdout and "checked the invoice" in report.stdout


def test_a_replay_that_fails_again_is_said_and_exits_1(tmp_path: Path) -> None:
    """Replayed before the fix is deployed: the event is in dlq again, for good (one replay an event), and
    the command says which events and exits 1 so a script notices."""
    audit, _ = first_run(tmp_path)
    dlq_run = str(by_id(tmp_path / "out" / "dwf.scoring.dlq.jsonl")["b"]["run_id"])
    common = ("scoring.yaml", "--out", "out", "--audit", audit)
    replay = dana_wf("dlq", "replay", *common, "--event", dlq_run, cwd=tmp_path)
    assert replay.returncode == 1
    assert f"failed again and stay in dlq: {dlq_run}" in replay.stderr
    assert f"{dlq_run}: dlq" in replay.stdout
