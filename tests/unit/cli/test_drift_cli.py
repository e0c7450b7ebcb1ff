"""`dana-wf drift baseline | report` in this process on a small workflow with one monitor (docs/drift.md):
the baseline file's format, the report read from the records file and from the audit store alike, and the
two errors (no monitors, no records: exit 1, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

runner = CliRunner()

SPEC = """\
workflow: tally
version: 1
input:
  id: string
  colour: string
  ts: long
steps:
  - keep:
      validate:
        - {id: has_id, rule: "size(id) > 0"}
drift:
  window: {kind: tumbling, size_s: 60, time_field: ts}
  monitors:
    - {id: colours, field: colour, feature: categorical, reference_windows: 1}
"""

NO_DRIFT = SPEC[: SPEC.index("drift:")]


def _events(path: Path) -> Path:
    # three one-minute windows of 30 events each: the first red and blue, the next two all green
    rows = []
    for minute in range(3):
        for i in range(30):
            colour = ("red", "blue")[i % 2] if minute == 0 else "green"
            rows.append({"id": f"e{minute}-{i}", "colour": colour, "ts": 1_700_000_000 + 60 * minute + i})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_baseline_pools_every_event_into_a_versioned_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    spec = tmp_path / "tally.yaml"
    spec.write_text(SPEC)
    events = _events(tmp_path / "events.jsonl")
    out = tmp_path / "tally.baseline.json"
    res = runner.invoke(app, ["drift", "baseline", str(spec), "--input", str(events), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"baseline of 90 events for 1 monitors written to {out}" in " ".join(res.output.split())
    written = json.loads(out.read_text())
    assert written["format"] == "dana-wf-drift-baseline"
    assert written["version"] == 1
    assert written["workflow"] == "tally"


def test_baseline_of_a_spec_without_monitors_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    spec = tmp_path / "plain.yaml"
    spec.write_text(NO_DRIFT)
    out = tmp_path / "b.json"
    res = runner.invoke(
        app,
        ["drift", "baseline", str(spec), "--input", str(_events(tmp_path / "e.jsonl")), "--out", str(out)],
    )
    assert res.exit_code == 1
    assert "declares no drift monitors" in res.output
    assert not out.exists()


def test_the_report_reads_the_same_records_from_the_file_and_from_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    spec = tmp_path / "tally.yaml"
    spec.write_text(SPEC)
    audit = f"chdb://{tmp_path / 'audit'}"
    ran = runner.invoke(
        app,
        [
            "run",
            str(spec),
            "-i",
            str(_events(tmp_path / "e.jsonl")),
            "--out",
            str(tmp_path / "out"),
            "--audit",
            audit,
            "-q",
        ],
    )
    assert ran.exit_code == 0, ran.output
    records = tmp_path / "out" / "dwf.tally.drift.jsonl"
    lines = [json.loads(x) for x in records.read_text().splitlines() if x]
    assert len(lines) == 3  # one record per closed window and monitor
    from_file = runner.invoke(
        app, ["drift", "report", str(spec), "--records", str(records), "--svg", str(tmp_path / "f.svg")]
    )
    assert from_file.exit_code == 0, from_file.output
    assert "colours" in from_file.output
    assert from_file.output.strip().endswith(f"chart written to {tmp_path / 'f.svg'}")
    svg = (tmp_path / "f.svg").read_text()
    assert "<svg" in svg[:200]
    from_audit = runner.invoke(
        app, ["drift", "report", str(spec), "--audit", audit, "--svg", str(tmp_path / "a.svg")]
    )
    assert from_audit.exit_code == 0, from_audit.output
    assert (tmp_path / "a.svg").read_text() == svg
    js = runner.invoke(
        app,
        [
            "drift",
            "report",
            str(spec),
            "--records",
            str(records),
            "--svg",
            str(tmp_path / "j.svg"),
            "--metric",
            "js",
        ],
    )
    assert js.exit_code == 0, js.output
    assert "(js)" in (tmp_path / "j.svg").read_text()


def test_a_report_without_records_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    spec = tmp_path / "tally.yaml"
    spec.write_text(SPEC)
    empty = tmp_path / "none.jsonl"
    empty.write_text("\n")
    res = runner.invoke(
        app, ["drift", "report", str(spec), "--records", str(empty), "--svg", str(tmp_path / "x.svg")]
    )
    assert res.exit_code == 1
    assert "no drift records for tally" in res.output
    assert not (tmp_path / "x.svg").exists()
