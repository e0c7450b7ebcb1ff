"""Mutation pass over session 18's lines of cli/shadow.py: a test for the mutant that survived.

`shadow report --follow` started before the workers says once that it waits for the audit store, naming
its directory as written: a path holding `[...]` (a directory named for a version, `audit[v2]`) is printed
as it is, not read as rich markup and dropped (cli/conventions.fail gives the errors the same care).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


@pytest.mark.parametrize("directory", ["audit[v2]", "[red]audit"])
def test_the_waiting_line_names_a_directory_with_brackets_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str
) -> None:
    monkeypatch.setattr("dana_workflows.cli.shadow.time.sleep", lambda seconds: None)
    where = tmp_path / directory
    args = ["shadow", "report", str(SPEC), "--audit", f"chdb://{where}", "--follow", "--rounds", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"no audit store at {where} yet: waiting for the workers to write it" in res.output
    assert not where.exists()
