"""`dana-wf shadow report` opens the audit store as every other reader does (cli.stores): a server that is
down is the readers' one line with their hint; an embedded store that is not there is named, not created."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


def test_a_server_that_is_down_gets_the_readers_hint() -> None:
    dsn = f"clickhouse://default@127.0.0.1:{free_port()}/default"
    res = CliRunner().invoke(app, ["shadow", "report", str(SPEC), "--audit", dsn])
    assert res.exit_code == 1
    (line,) = res.output.strip().splitlines()
    assert line.startswith(f"error: cannot reach the audit store {dsn}: ")
    assert line.endswith("; is its server running? (name another store with --audit or DWF_AUDIT_DSN)")


def test_an_embedded_store_that_is_not_there_is_named_and_not_created(tmp_path: Path) -> None:
    where = tmp_path / "audit"
    res = CliRunner().invoke(app, ["shadow", "report", str(SPEC), "--audit", f"chdb://{where}"])
    assert res.exit_code == 2  # as before: nothing to compare is the user's to fix (start the shadow worker)
    assert f"no audit store at {where}" in res.output
    assert not where.exists()


def test_a_query_refused_after_the_store_answered_is_one_line_and_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dana_workflows.cli import stores

    closed: list[bool] = []

    class Refusing:
        database = "dwf"

        def query(self, sql: str) -> object:
            raise RuntimeError("Code: 60. Table dwf.audit_events does not exist")

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(stores, "open_found_audit", lambda dsn, config: Refusing())
    res = CliRunner().invoke(app, ["shadow", "report", str(SPEC), "--audit", "clickhouse://h/dwf"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        "error: cannot read the audit store clickhouse://h/dwf: "
        "Code: 60. Table dwf.audit_events does not exist"
    )
    assert closed == [True]
