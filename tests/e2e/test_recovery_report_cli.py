"""`dana-wf recovery report` end to end: two real `dana-wf run`s of the ladder workflow
(tests/fixtures/ladder_workflow.py) against the project's test server (`--llm-script`), one with the
primary model out of quota, one with every model out of quota, into one audit store; the report counts
each rung's attempts and successes per step and error class.

The expected figures follow from the ladder (quota starts at fallback_model; an event above 10,000 is
high_risk and never gets the default), written down before the report ran:
run one: the fallback answers all three events; run two: the fallback fails for all three, the two
ordinary events take the default and the high-risk one goes to review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.test_review_replay_cli import dana_wf  # the CLI in a subprocess, as a user runs it
from tests.fixtures.ladder_workflow import FALLBACK, PRIMARY, ladder_events, ladder_spec
from tests.fixtures.llm_server import RISK_RULES

pytestmark = pytest.mark.e2e


def script(path: Path, quota_models: list[str]) -> Path:
    doc: dict[str, Any] = {
        "models": [PRIMARY, FALLBACK],
        "rules": RISK_RULES,
        "faults": {"quota": {"always": True, "models": quota_models}},
    }
    with path.open("w") as fh:
        YAML().dump(doc, fh)
    return path


def run(tmp: Path, case: str, quota_models: list[str], audit: str) -> None:
    (tmp / f"{case}.jsonl").write_text("\n".join(ladder_events(case)) + "\n")
    done = dana_wf(
        *("run", "ladder.yaml", "--input", f"{case}.jsonl", "--out", f"out-{case}", "--audit", audit),
        *("--llm-script", str(script(tmp / f"{case}.yaml", quota_models)), "--quiet"),
        cwd=tmp,
    )
    # exit 1: not every event reached out (review is not out); the outputs are there either way
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert (tmp / f"out-{case}" / "dwf.ladder.out.jsonl").exists(), done.stdout + done.stderr


def test_the_report_counts_each_rung_per_step_and_error_class(tmp_path: Path) -> None:
    (tmp_path / "ladder.yaml").write_text(ladder_spec(5.0))
    audit = f"chdb://{tmp_path / 'audit'}"
    run(tmp_path, "one", [PRIMARY], audit)
    run(tmp_path, "two", [PRIMARY, FALLBACK], audit)

    report = dana_wf("recovery", "report", "--audit", audit, "--json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    got = {
        (r["step"], r["error_class"], r["rung"]): (r["attempts"], r["successes"], r["success_rate"])
        for r in figures["rungs"]
    }
    assert got == {
        ("assess", "quota", "fallback_model"): (4, 2, 0.5),
        ("assess", "quota", "default"): (2, 2, 1.0),
        ("assess", "high_risk", "fallback_model"): (2, 1, 0.5),
        ("assess", "high_risk", "review"): (1, 1, 1.0),
    }
    assert figures["events"] == 6
    review = [
        json.loads(x) for x in (tmp_path / "out-two" / "dwf.ladder.review.jsonl").read_text().splitlines()
    ]
    assert [r["payload"]["claim_id"] for r in review] == ["two-2"]

    table = dana_wf("recovery", "report", "--audit", audit, "-w", "ladder", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "fallback_model" in table.stdout and "50.0%" in table.stdout and "high_risk" in table.stdout

    one = review[0]["run_id"]
    only = json.loads(
        dana_wf("recovery", "report", "--audit", audit, "--run-id", one, "--json", cwd=tmp_path).stdout
    )
    assert {(r["rung"], r["successes"]) for r in only["rungs"]} == {("fallback_model", 0), ("review", 1)}

    other = dana_wf("recovery", "report", "--audit", audit, "-w", "no-such-workflow", cwd=tmp_path)
    assert other.returncode == 0 and "no recovery attempts" in other.stdout


def test_bad_options_are_one_clear_error(tmp_path: Path) -> None:
    audit = f"chdb://{tmp_path / 'audit'}"
    both = dana_wf(
        "recovery", "report", "--audit", audit, "--run-id", "x", "--since", "2026-01-01", cwd=tmp_path
    )
    assert both.returncode == 2 and "not both" in both.stderr
    bad = dana_wf("recovery", "report", "--audit", audit, "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2 and "--since 'yesterday' is not a time: give an ISO time" in bad.stderr
    missing = dana_wf("recovery", "report", "--audit", audit, cwd=tmp_path)
    assert missing.returncode == 1 and "no audit store" in missing.stderr
    assert "Traceback" not in both.stderr + bad.stderr + missing.stderr
