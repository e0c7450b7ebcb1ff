"""A reviewed event continues and its override is in the compliance report (issue 18, "Done when"), through
the real commands: ``dana-wf run`` sends a high-amount event to review (the step's recovery ladder),
``dana-wf review decide`` records the reviewer's decision, and ``dana-wf audit compliance`` reports it:
who, when, why, before and after, the reviewer among the people who verified that use, and the run's end
after the override (the event went on to its output).

Expected values come from the workflow's definition and the decision this test makes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.review_workflow import BROKEN, EVENTS, SPEC

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

REVIEWER = "carol"
WHY = "invoice checked against the contract"


def dana_wf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dana-wf")
    cmd = [exe] if exe else [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(cwd / "fn"), str(ROOT), env.get("PYTHONPATH", "")])
    env["DWF_DATA_DIR"] = str(cwd / "data")
    env["DWF_AUDIT_DSN"] = f"chdb://{cwd / 'audit'}"
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_reviewed_event_continues_and_its_override_is_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "scorer.py").write_text(BROKEN)  # raises above 1000: the ladder sends d to review
    (tmp_path / "scoring.yaml").write_text(SPEC)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    run = dana_wf("run", "scoring.yaml", "--input", "events.jsonl", "--out", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    (sent,) = [
        json.loads(x) for x in (tmp_path / "out" / "dwf.scoring.review.jsonl").read_text().splitlines()
    ]
    assert sent["payload"]["id"] == "d"
    run_id = str(sent["run_id"])

    decide = dana_wf(
        "review", "decide", "scoring.yaml", "--out", "out", run_id, "--decision", "score=0.7",
        "--reason", WHY, "--reviewer", REVIEWER, cwd=tmp_path,
    )  # fmt: skip
    assert decide.returncode == 0, decide.stdout + decide.stderr

    proc = dana_wf("audit", "compliance", "--run-id", run_id, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    (override,) = report["overrides"]
    assert (override["reviewer"], override["reason"], override["step"]) == (REVIEWER, WHY, "score")
    assert json.loads(override["after"]) == {"score": 0.7} and json.loads(override["before"]) == {
        "score": None
    }
    (use,) = report["uses"]
    assert use["reviewers"] == [REVIEWER] and json.loads(use["input"])["id"] == "d"
    # the event continued after the decision: score 0.7 >= 0.5 routes it to approve, which flows on to the
    # output (a score below 0.5 would have ended at the terminal branch hold)
    assert (use["outcome"], use["decision"]) == ("completed", "out")
    assert use["end_us"] > override["decided_at_us"] >= use["start_us"]
    assert report["transitions"]["override"] == 1 and report["transitions"]["review"] == 1 and report["ok"]
    # the ladder's one attempt: the rule for amounts above 1000 starts at review (a high-risk event)
    assert report["recovery"] == [
        {"workflow": "scoring", "step": "score", "error_class": "high_risk", "rung": "review",
         "attempts": 1, "successes": 1, "success_rate": 1.0}
    ]  # fmt: skip
    html = dana_wf("audit", "compliance", "--run-id", run_id, "-o", "r.html", cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "r.html").read_text()
    assert REVIEWER in page and WHY in page and "{&#34;score&#34;:0.7}" in page
