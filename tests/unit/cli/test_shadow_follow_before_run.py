"""`dana-wf shadow report --follow` started before the workers have written anything (docs/changes.md,
shadow report): an embedded audit store that is not there yet is waited for, as a store with no shadow
decisions yet is, and not created (the workers create it); without --follow it stays one error, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli import shadow
from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


def test_a_follower_waits_for_a_store_that_is_not_there_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waited: list[float] = []
    monkeypatch.setattr(shadow.time, "sleep", waited.append)
    where = tmp_path / "audit"
    args = ["shadow", "report", str(SPEC), "--audit", f"chdb://{where}", "--follow", "--interval", "7"]
    res = CliRunner().invoke(app, [*args, "--rounds", "3"])
    assert res.exit_code == 0, res.output
    reports = [line for line in res.output.splitlines() if "events decided by both" in line]
    assert len(reports) == 3  # one a round, as for a store with no decisions yet
    assert all(": 0 events decided by both, 0 agree, 0 differ, 0 live" in line for line in reports)
    assert res.output.count(f"no audit store at {where} yet") == 1  # said once, not every round
    assert waited == [7.0, 7.0]  # it slept between rounds, and stopped after the third
    assert not where.exists()  # not created: the workers create it


def test_without_follow_it_is_still_one_error(tmp_path: Path) -> None:
    where = tmp_path / "audit"
    res = CliRunner().invoke(app, ["shadow", "report", str(SPEC), "--audit", f"chdb://{where}"])
    assert res.exit_code == 2
    assert f"no audit store at {where}" in res.output and "events decided" not in res.output
    # what to start, as for a store with no shadow decisions yet: the shadow worker, not `dana-wf run`
    flat = " ".join(res.output.split())
    assert f"start `dana-wf worker NEW.yaml --shadow-of {SPEC}`" in flat and "dana-wf run" not in flat
    assert not where.exists()


class _NoTableYet:
    """A server store that answers, before the workers have made its table (`EXISTS TABLE` is 0 until
    `made` is set, and the decisions' query is refused, as the server refuses a missing table)."""

    database = "dwf"

    def __init__(self, asked: list[str], made: bool) -> None:
        self.asked, self.made = asked, made

    def query(self, sql: str) -> object:
        self.asked.append(sql)
        if sql.startswith("EXISTS TABLE"):
            return type("Result", (), {"rows": [(1 if self.made else 0,)]})()
        if not self.made:
            raise RuntimeError("the server refused the query: Database dwf doesn't exist. (code 81)")
        return type("Result", (), {"rows": []})()

    def close(self) -> None:
        pass


def test_a_follower_waits_for_a_server_table_the_workers_have_not_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dana_workflows.cli import stores

    asked: list[str] = []
    rounds = iter([False, False, True])  # the workers make the table before the third round
    monkeypatch.setattr(shadow.time, "sleep", lambda s: None)
    monkeypatch.setattr(stores, "open_found_audit", lambda dsn, config: _NoTableYet(asked, next(rounds)))
    dsn = "clickhouse://h/dwf"
    res = CliRunner().invoke(
        app, ["shadow", "report", str(SPEC), "--audit", dsn, "--follow", "--rounds", "3"]
    )
    assert res.exit_code == 0, res.output
    assert len([line for line in res.output.splitlines() if "events decided by both" in line]) == 3
    assert res.output.count(f"no audit table in {dsn} yet") == 1
    assert sum(sql.startswith("SELECT run_id") for sql in asked) == 1  # read once the table is there


def test_without_follow_a_missing_server_table_is_still_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dana_workflows.cli import stores

    monkeypatch.setattr(stores, "open_found_audit", lambda dsn, config: _NoTableYet([], False))
    res = CliRunner().invoke(app, ["shadow", "report", str(SPEC), "--audit", "clickhouse://h/dwf"])
    assert res.exit_code == 1
    assert res.output.strip().startswith("error: cannot read the audit store clickhouse://h/dwf: ")
