"""The knowledge commands' exit codes for their store's DSN (docs/cli.md, exit codes): a DSN that does not
parse is a value the user can fix, a usage error, exit 2, as a bad audit DSN is for `run`; a well-formed
DSN whose server is down is the command unable to do its job, exit 1, with the server hint. Either way
one line, no traceback, and no embedded store created."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_USAGE
from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port
from tests.unit.cli.test_knowledge_cli import SPEC  # a spec with knowledge sources

pytestmark = pytest.mark.unit

COMMANDS = [("sync", "spec.yaml"), ("ls",), ("show", "policies"), ("diff", "policies")]
MALFORMED = ["postgres://x", "localhost:9000", "chdb://", "clickhouse://h/db?sslmode=require"]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "P-1.md").write_text("# P-1\n\n## Terms\n\nAt most 5.\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    monkeypatch.delenv("DWF_KNOWLEDGE_DSN", raising=False)
    return tmp_path


def _one_error_line(output: str) -> str:
    assert "Traceback" not in output
    (line,) = output.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.mark.parametrize("dsn", MALFORMED)
@pytest.mark.parametrize("given", ["--dsn", "DWF_KNOWLEDGE_DSN"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_malformed_dsn_is_a_usage_error(
    here: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], given: str, dsn: str
) -> None:
    args = ["knowledge", *command]
    if given == "--dsn":
        args += ["--dsn", dsn]
    else:
        monkeypatch.setenv("DWF_KNOWLEDGE_DSN", dsn)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == EXIT_USAGE, res.output
    assert _one_error_line(res.output).startswith("error: knowledge DSN ")
    assert not (here / ".dwf").exists()


def test_a_malformed_dsn_in_the_spec_is_a_usage_error_too(here: Path) -> None:
    (here / "spec.yaml").write_text(SPEC.replace("knowledge:\n", "knowledge:\n  store: postgres://x\n"))
    res = CliRunner().invoke(app, ["knowledge", "sync", "spec.yaml"])
    assert res.exit_code == EXIT_USAGE, res.output
    assert _one_error_line(res.output).startswith("error: knowledge DSN 'postgres://x': unknown scheme")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_server_that_is_down_stays_a_failure(here: Path, command: tuple[str, ...]) -> None:
    dsn = f"clickhouse://default@127.0.0.1:{free_port()}/dwf"
    res = CliRunner().invoke(app, ["knowledge", *command, "--dsn", dsn])
    assert res.exit_code == EXIT_FAILURE, res.output
    line = _one_error_line(res.output)
    assert "Connection refused" in line
    assert line.endswith("; is its server running? (name another store with --dsn or DWF_KNOWLEDGE_DSN)")
