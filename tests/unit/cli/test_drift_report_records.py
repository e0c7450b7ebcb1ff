"""`dana-wf drift report --records FILE` on a file that is not drift records (an events file given by
mistake, a cut line): one line naming the file and the line, exit 2 (the user's file, docs/cli.md), no
traceback and no chart written; a records file as a run writes it still reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from tests.unit.cli.test_drift_cli import SPEC

pytestmark = pytest.mark.unit

runner = CliRunner()

# one record as DriftRecord.to_record writes it (drift/records.py), the keys drift/report.collect reads
RECORD = {
    "workflow": "tally",
    "monitor": "colours",
    "field": "colour",
    "window_start_us": 1_700_000_000_000_000,
    "window_end_us": 1_700_000_060_000_000,
    "psi": 0.3,
    "level": "warn",
    "warn_psi": 0.1,
    "alert_psi": 0.5,
}


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        (['{"id": "e1", "colour": "red", "ts": 1700000000}'], "not drift records (KeyError: 'monitor')"),
        ([json.dumps(RECORD), '{"monitor": "colours", "window'], "line 2: not JSON"),
        (["[1, 2]"], "line 1: not a JSON object"),
    ],
)
def test_a_file_that_is_not_drift_records_is_one_line_and_exit_2(
    tmp_path: Path, lines: list[str], said: str
) -> None:
    spec = tmp_path / "tally.yaml"
    spec.write_text(SPEC)
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(lines) + "\n")
    svg = tmp_path / "drift.svg"
    res = runner.invoke(app, ["drift", "report", str(spec), "--records", str(records), "--svg", str(svg)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)  # a clean exit, not an exception's traceback
    text = " ".join(res.output.split())
    assert f"{records}" in text and said in text
    assert "--records takes the drift records a run writes" in text
    assert not svg.exists()


def test_a_records_file_still_reports(tmp_path: Path) -> None:
    spec = tmp_path / "tally.yaml"
    spec.write_text(SPEC)
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(RECORD) + "\n\n")  # a blank line is no record
    svg = tmp_path / "drift.svg"
    res = runner.invoke(app, ["drift", "report", str(spec), "--records", str(records), "--svg", str(svg)])
    assert res.exit_code == 0, res.output
    assert svg.exists() and "colours" in res.output
