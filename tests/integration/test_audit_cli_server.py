"""`dana-wf run | audit sql | audit verify | audit report` against the real ClickHouse server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.sinks.dsn import ClickHouseServerConfig

pytestmark = pytest.mark.integration
runner = CliRunner()
CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"


def test_the_audit_commands_work_on_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clickhouse_database: ClickHouseServerConfig
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    c = clickhouse_database
    dsn = f"clickhouse://{c.user}@{c.host}:{c.port}/{c.database}"
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join((CLAIMS / "events.jsonl").read_text().splitlines()[:400]) + "\n")

    ran = runner.invoke(
        app,
        [
            "run",
            str(CLAIMS / "claims.yaml"),
            "--input",
            str(events),
            "--out",
            str(tmp_path / "out"),
            "--audit",
            dsn,
            "-q",
        ],
    )
    assert ran.exit_code == 0, ran.output

    sql = runner.invoke(
        app,
        [
            "audit",
            "sql",
            f"SELECT kind, count() AS n FROM {c.database}.events GROUP BY kind ORDER BY kind",
            "--dsn",
            dsn,
            "--json",
        ],
    )
    assert sql.exit_code == 0, sql.output
    kinds = {json.loads(line)["kind"]: int(json.loads(line)["n"]) for line in sql.output.splitlines()}
    assert kinds["received"] == 400
    rejected = len((tmp_path / "out" / "dwf.claims-triage.rejected.jsonl").read_text().splitlines())
    assert kinds["rejected"] == rejected

    verified = runner.invoke(app, ["audit", "verify", "--dsn", dsn])
    assert verified.exit_code == 0 and "chains OK" in verified.output, verified.output

    run_id = json.loads((tmp_path / "out" / "dwf.claims-triage.out.jsonl").read_text().splitlines()[0])[
        "run_id"
    ]
    report = runner.invoke(app, ["audit", "report", run_id, "--dsn", dsn, "--html", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert f"run `{run_id}`" in report.output and "verified" in report.output
    assert "enforce_objective" in (tmp_path / "r.html").read_text()

    refused = runner.invoke(app, ["audit", "sql", f"TRUNCATE TABLE {c.database}.events", "--dsn", dsn])
    assert refused.exit_code == 1
