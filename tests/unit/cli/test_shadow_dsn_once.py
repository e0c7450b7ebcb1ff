"""`dana-wf shadow report` parses its DSN once a command (cli.stores.store_config), not two or three times
a round: report checked whether an embedded store was there, the readers' opener checked it again and the
sink parsed it a third time (session 18 note). Rounds of --follow ask only whether the store's directory
is there yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli import shadow
from dana_workflows.cli.main import app

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import dana_workflows.sinks.dsn as dsn
    import dana_workflows.sinks.stores as sink_stores

    seen: list[str] = []
    real = dsn.parse_dsn

    def counting(target: str, **kwargs: Any) -> Any:
        seen.append(target)
        return real(target, **kwargs)

    monkeypatch.setattr(dsn, "parse_dsn", counting)
    monkeypatch.setattr(sink_stores, "parse_dsn", counting)
    monkeypatch.setattr(shadow.time, "sleep", lambda s: None)
    return seen


def test_a_follower_waiting_for_an_embedded_store_parses_its_dsn_once(
    parses: list[str], tmp_path: Path
) -> None:
    target = f"chdb://{tmp_path / 'audit'}"
    res = CliRunner().invoke(
        app, ["shadow", "report", str(SPEC), "--audit", target, "--follow", "--rounds", "3"]
    )
    assert res.exit_code == 0, res.output
    assert len([line for line in res.output.splitlines() if "events decided by both" in line]) == 3
    assert parses == [target]


class _Empty:
    database = "dwf"

    def query(self, sql: str) -> Any:
        return type("Result", (), {"rows": [(1,)] if sql.startswith("EXISTS") else []})()

    def close(self) -> None:
        pass


def test_a_server_store_is_opened_from_the_one_parse(
    parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dana_workflows.cli import stores

    configs: list[Any] = []
    monkeypatch.setattr(stores, "open_found_audit", lambda dsn, config: configs.append(config) or _Empty())
    target = "clickhouse://default@h:9000/dwf"
    res = CliRunner().invoke(
        app, ["shadow", "report", str(SPEC), "--audit", target, "--follow", "--rounds", "2"]
    )
    assert res.exit_code == 0, res.output
    assert parses == [target]
    assert len(configs) == 2 and configs[0] is configs[1]  # each round's open gets the parsed config
