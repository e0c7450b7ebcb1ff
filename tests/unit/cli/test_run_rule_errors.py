"""A rule that cannot be computed on most events of a run is called out in `dana-wf run`'s summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

SPEC = """\
workflow: loans
input: {credit_score: long, channel: string}
steps:
  - check:
      validate:
        - {id: score_range, rule: "300 <= credit_score <= 850"}
        - {id: web_only, rule: "channel == 'web'"}
  - decide:
      route:
        good: "credit_score * 1.5 > 900.0"
        other: "true"
"""


def run(tmp_path: Path, spec_text: str, events: list[dict[str, object]]) -> str:
    spec, lines = tmp_path / "spec.yaml", tmp_path / "events.jsonl"
    spec.write_text(spec_text)
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = CliRunner().invoke(
        app, ["run", str(spec), "-i", str(lines), "--out", str(tmp_path / "o"), "--no-audit"]
    )
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_rule_erroring_on_most_events_is_named(tmp_path: Path) -> None:
    output = run(
        tmp_path, SPEC, [{"credit_score": 700, "channel": "web"}] * 5 + [{"credit_score": 1, "channel": "x"}]
    )
    assert "rule score_range could not be computed on 6 of 6 events" in output
    assert "web_only could not be computed" not in output  # it failed, but it was computed


def test_route_condition_erroring_on_most_events_is_named(tmp_path: Path) -> None:
    spec = SPEC.replace('"300 <= credit_score <= 850"', '"credit_score > 0"')
    output = run(tmp_path, spec, [{"credit_score": 700, "channel": "web"}] * 3)
    assert "rule decide.good could not be computed on 3 of 3 events" in output


def test_a_few_errors_are_not_called_out(tmp_path: Path) -> None:
    spec = SPEC.replace('"300 <= credit_score <= 850"', '"10 / credit_score > 0"')
    events = [{"credit_score": 7, "channel": "web"}] * 3 + [{"credit_score": 0, "channel": "web"}]
    output = run(tmp_path, spec.replace('"credit_score * 1.5 > 900.0"', '"credit_score > 5"'), events)
    assert "could not be computed" not in output
