"""`dana-wf diff`: the changed decisions are exactly those two full `dana-wf run`s disagree on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "docs" / "examples" / "claims"
EVENTS = 1200


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    lines = (CLAIMS / "events.jsonl").read_text(encoding="utf-8").split("\n")[:EVENTS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def variant(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (CLAIMS / "claims.yaml").read_text(encoding="utf-8").replace("version: 3", "version: 4")
    for old, new in edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def decisions(spec: Path, events: Path, out: Path) -> dict[str, tuple[str, str | None]]:
    """A full `dana-wf run`: run id -> (output it ended in, route taken), read from the output files."""
    result = CliRunner().invoke(
        app, ["run", str(spec), "--input", str(events), "--out", str(out), "--no-audit", "-q"]
    )
    assert result.exit_code == 0, result.output
    found: dict[str, tuple[str, str | None]] = {}
    for file in out.glob("*.jsonl"):
        boundary = file.name.split(".")[-2]
        if boundary == "drift":  # window records, not decisions
            continue
        for line in file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found[record["run_id"]] = (boundary, record["payload"].get("route"))
    return found


def changed_by_full_runs(old: Path, new: Path, events: Path, tmp_path: Path) -> set[str]:
    a, b = decisions(old, events, tmp_path / "a"), decisions(new, events, tmp_path / "b")
    assert a.keys() == b.keys()
    return {run for run in a if a[run] != b[run]}


def diff(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["diff", *args])
    return result.exit_code, result.output


def diff_json(tmp_path: Path, *args: str) -> tuple[int, str, list[dict[str, object]]]:
    report = tmp_path / "diff.json"
    result = CliRunner().invoke(app, ["diff", *args, "--json", str(report)])
    changes = json.loads(report.read_text())["changes"] if report.exists() else []
    return result.exit_code, result.output, changes


def test_changed_limit_names_exactly_the_events_whose_decision_changed(events: Path, tmp_path: Path) -> None:
    new = variant(tmp_path, "limit", ('auto_pay: "amount_usd < 1000.0"', 'auto_pay: "amount_usd < 500.0"'))
    truth = changed_by_full_runs(CLAIMS / "claims.yaml", new, events, tmp_path)
    assert truth  # the change does change decisions on this input
    code, output, changes = diff_json(tmp_path, str(CLAIMS / "claims.yaml"), str(new), "--input", str(events))
    assert {c["run_id"] for c in changes} == truth
    assert {tuple(c["causes"]) for c in changes} == {("route:triage",)}  # type: ignore[arg-type]
    assert code == 1 and "UNEXPECTED" in output  # nothing was declared intended
    html = tmp_path / "diff.html"
    expected = CliRunner().invoke(
        app,
        [
            "diff",
            str(CLAIMS / "claims.yaml"),
            str(new),
            "-i",
            str(events),
            "--expect",
            "route:*",
            "--html",
            str(html),
        ],
    )
    assert expected.exit_code == 0, expected.output
    page = html.read_text(encoding="utf-8")
    assert (
        f"<strong>{len(truth)}</strong> decisions changed (0 unexpected)" in page and "route:triage" in page
    )


def test_a_new_rule_is_the_cause_and_an_unrelated_change_fails_the_gate(events: Path, tmp_path: Path) -> None:
    new = variant(
        tmp_path,
        "rule",
        (
            "  - triage:\n",
            "  - cap:\n      validate:\n"
            '        - {id: max_amount, rule: "amount_usd <= 5000.0"}\n  - triage:\n',
        ),
        (
            "rule: \"route != 'auto_pay' || amount_usd <= policy_limit\"",
            "rule: \"route != 'auto_pay' || amount_usd <= 0.8 * policy_limit\"",
        ),
    )
    truth = changed_by_full_runs(CLAIMS / "claims.yaml", new, events, tmp_path)
    code, output, changes = diff_json(
        tmp_path, str(CLAIMS / "claims.yaml"), str(new), "-i", str(events), "--expect", "rule:cap.max_amount"
    )
    assert {c["run_id"] for c in changes} == truth
    causes = {tuple(c["causes"]) for c in changes}  # type: ignore[arg-type]
    assert ("rule:cap.max_amount",) in causes and ("constraint:within_limit",) in causes
    assert code == 1  # the constraint's changes were not declared
    assert "constraint:within_limit" in output and "UNEXPECTED" in output


def test_same_spec_changes_nothing(events: Path, tmp_path: Path) -> None:
    code, output, changes = diff_json(
        tmp_path, str(CLAIMS / "claims.yaml"), str(CLAIMS / "claims.yaml"), "-i", str(events)
    )
    assert (code, changes) == (0, [])
    assert "0 decisions changed" in output


def test_versions_of_different_workflows_are_refused(events: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        (CLAIMS / "claims.yaml").read_text().replace("workflow: claims-triage", "workflow: payouts")
    )
    code, output = diff(str(CLAIMS / "claims.yaml"), str(other), "-i", str(events))
    assert code == 2
    assert (
        "is workflow 'claims-triage'" in output
        and "is workflow 'payouts'" in output
        and "Traceback" not in output
    )


def test_from_audit_replays_what_a_run_recorded(events: Path, tmp_path: Path) -> None:
    store = f"chdb://{tmp_path / 'audit'}"
    run = CliRunner().invoke(
        app,
        [
            "run",
            str(CLAIMS / "claims.yaml"),
            "-i",
            str(events),
            "--out",
            str(tmp_path / "o"),
            "--audit",
            store,
            "-q",
        ],
    )
    assert run.exit_code == 0, run.output
    new = variant(tmp_path, "limit", ('auto_pay: "amount_usd < 1000.0"', 'auto_pay: "amount_usd < 500.0"'))
    truth = changed_by_full_runs(CLAIMS / "claims.yaml", new, events, tmp_path)
    code, _, changes = diff_json(
        tmp_path,
        str(CLAIMS / "claims.yaml"),
        str(new),
        "--from-audit",
        "--audit",
        store,
        "--expect",
        "route:triage",
    )
    assert code == 0
    assert len(changes) == len(truth)  # replayed from the audit, the events are the same ones
    empty = CliRunner().invoke(
        app,
        [
            "diff",
            str(CLAIMS / "claims.yaml"),
            str(new),
            "--from-audit",
            "--audit",
            store,
            "--since",
            "2099-01-01",
        ],
    )
    assert (
        empty.exit_code == 2
        and "no recorded input of workflow 'claims-triage' from 2099-01-01" in empty.output
    )
    missing = CliRunner().invoke(
        app,
        [
            "diff",
            str(CLAIMS / "claims.yaml"),
            str(new),
            "--from-audit",
            "--audit",
            f"chdb://{tmp_path / 'none'}",
        ],
    )
    assert missing.exit_code == 2 and "no audit store at" in missing.output
    assert not (tmp_path / "none").exists()


LENDING = ROOT / "docs" / "examples" / "lending"


def test_second_workflow_validate_and_diff(tmp_path: Path) -> None:
    """The lending example (another domain): clean under --strict; a raised score cutoff changes exactly
    the decisions two full runs disagree on; a branch that contradicts the objective is found."""
    spec = LENDING / "lending.yaml"
    clean = CliRunner().invoke(app, ["validate", "--strict", str(spec)])
    assert clean.exit_code == 0 and "no findings" in clean.output
    text = spec.read_text(encoding="utf-8")
    new = tmp_path / "lending_v2.yaml"
    new.write_text(
        text.replace("credit_score >= 700", "credit_score >= 720").replace("version: 1", "version: 2")
    )
    events = LENDING / "events.jsonl"
    truth = changed_by_full_runs(spec, new, events, tmp_path)
    assert truth
    code, _, changes = diff_json(tmp_path, str(spec), str(new), "-i", str(events), "--expect", "route:decide")
    assert code == 0 and {c["run_id"] for c in changes} == truth
    broken = tmp_path / "lending_broken.yaml"
    broken.write_text(
        text.replace(
            'auto_approve: "credit_score >= 700 && loan_amount <= annual_income * 0.5"',
            'auto_approve: "credit_score >= 700 && loan_amount > annual_income * 0.5"',
        )
    )
    found = CliRunner().invoke(app, ["validate", str(broken)])
    assert "objective.constraints[0].rule: contradicts-branch" in found.output
    assert "branch 'auto_approve' of 'decide'" in found.output


def test_llm_steps_answer_from_recorded_replies_only(
    events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_LLM_CACHE_PATH", str(tmp_path / "llm-cache"))
    spec = CLAIMS / "claims_llm.yaml"
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(events.read_text().split("\n")[:200]) + "\n")
    recorded = CliRunner().invoke(
        app,
        [
            *("run", str(spec), "-i", str(few), "--out", str(tmp_path / "o"), "--no-audit", "-q"),
            *("--llm-script", str(CLAIMS / "llm_script.yaml")),
        ],
    )
    assert recorded.exit_code == 0, recorded.output
    # the endpoint is closed during a diff: equal decisions prove every reply came from the recording
    code, output, changes = diff_json(tmp_path, str(spec), str(spec), "-i", str(few))
    assert (code, changes) == (0, []) and "never recorded" not in output
    new = tmp_path / "llm_v2.yaml"
    new.write_text(
        spec.read_text().replace('auto_pay: "amount_usd < 1000.0"', 'auto_pay: "amount_usd < 500.0"')
    )
    code, output, changes = diff_json(
        tmp_path, str(spec), str(new), "-i", str(few), "--expect", "route:triage"
    )
    assert code == 0 and changes
    assert "events of the new version needed an LLM reply that was never recorded" in output
