"""`dana-wf diff`'s input refusals and exit codes (docs/changes.md "dana-wf diff": 0 when every change is
expected, 1 when some is not, 2 for input to fix), on two small versions of one workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

V1 = (
    "workflow: tiny\ninput: {amount: double}\nsteps:\n"
    '  - check: {validate: [{id: pos, rule: "amount > 0.0"}]}\n'
)


@pytest.fixture
def specs(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    old.write_text(V1)
    new.write_text(
        V1.replace("amount > 0.0", "amount > 5.0").replace("workflow: tiny", "workflow: tiny\nversion: 2")
    )
    return old, new


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["diff", *args])
    return result.exit_code, " ".join(result.output.split())


def test_the_events_come_from_one_place(specs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = specs
    message = "error: give the events with --input FILE or --from-audit (one of the two)"
    assert invoke(str(old), str(new)) == (2, message)
    events = tmp_path / "e.jsonl"
    events.write_text('{"amount": 1.0}\n')
    assert invoke(str(old), str(new), "--input", str(events), "--from-audit") == (2, message)


def test_two_different_workflows_are_refused(specs: tuple[Path, Path], tmp_path: Path) -> None:
    old, _ = specs
    other = tmp_path / "other.yaml"
    other.write_text(V1.replace("workflow: tiny", "workflow: payouts"))
    code, out = invoke(str(old), str(other), "--input", str(old))
    assert code == 2
    assert out == (
        f"error: {old} is workflow 'tiny' and {other} is workflow 'payouts': a diff compares two versions "
        "of one workflow (fix: give both specs the same `workflow:` name)"
    )


def test_an_input_file_must_exist_and_hold_events(specs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = specs
    gone = tmp_path / "gone.jsonl"
    assert invoke(str(old), str(new), "--input", str(gone)) == (2, f"error: input file {gone} does not exist")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n")
    assert invoke(str(old), str(new), "--input", str(blank)) == (
        2,
        f"error: input file {blank} has no events",
    )


def test_exit_1_for_an_unexpected_change_and_0_once_it_is_expected(
    specs: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = specs
    events = tmp_path / "e.jsonl"
    events.write_text("".join(json.dumps({"amount": a}) + "\n" for a in (1.0, 10.0)))
    out_json = tmp_path / "d.json"
    code, out = invoke(str(old), str(new), "--input", str(events), "--json", str(out_json))
    assert code == 1
    assert out.startswith(f"tiny: v1 ({old}) -> v2 ({new}), inputs from {events} ")
    assert "2 events replayed through both versions: 1 decisions changed" in out
    assert "rule:check.pos: 1 events (UNEXPECTED)" in out
    assert out.endswith("1 changed decisions are not in --expect")
    (change,) = json.loads(out_json.read_text())["changes"]
    assert (change["index"], change["old"], change["new"]) == (0, "out", "rejected at check (pos)")
    code, out = invoke(str(old), str(new), "--input", str(events), "--expect", "rule:check.*")
    assert code == 0 and "rule:check.pos: 1 events (expected)" in out
