"""Every command that loads a spec says the same thing, the same way, about a spec it cannot use
(cli/specs.py): one line naming the file and the problem, exit 2, no traceback (cli/conventions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit
runner = CliRunner()

UNIMPORTABLE = """
workflow: w
input: {a: int}
steps:
  - t:
      transform: {function: "no_such_module_here:fn"}
"""

COMMANDS = [
    ["run", "{spec}", "--input", "{events}", "--no-audit", "--out", "{out}"],
    ["topology", "{spec}"],
    ["review", "list", "{spec}", "--out", "{out}"],
    ["dlq", "list", "{spec}", "--out", "{out}"],
    ["diff", "{spec}", "{spec}", "--input", "{events}"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_transform_function_that_cannot_be_imported_is_a_spec_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    spec = tmp_path / "w.yaml"
    spec.write_text(UNIMPORTABLE)
    events = tmp_path / "e.jsonl"
    events.write_text('{"a": 1}\n')
    args = [a.format(spec=spec, events=events, out=tmp_path / "out") for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no_such_module_here:fn" in result.output and "cannot be imported" in result.output
    assert str(spec) in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing was run


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_spec_is_named(tmp_path: Path, command: list[str]) -> None:
    spec = tmp_path / "nowhere.yaml"
    events = tmp_path / "e.jsonl"
    events.write_text('{"a": 1}\n')
    args = [a.format(spec=spec, events=events, out=tmp_path / "out") for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "nowhere.yaml" in result.output and "Traceback" not in result.output
