"""`python -m dana_workflows.cli.clickhouse install|up` (docs/architecture.md) at the
server's seam: `up` prints the DSN the server gives on stdout (the time on stderr), with the directory and
ports asked for; `install` prints the binary's path; the server's refusal is one error line and exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.cli import clickhouse as clickhouse_cli
from dana_workflows.devservices.clickhouse.server import ClickHouseLocalError

pytestmark = pytest.mark.unit


class Server:
    made: list[tuple[Path, int, int]] = []
    refuse: str | None = None

    def __init__(self, data_dir: Path, port: int, http_port: int) -> None:
        Server.made.append((data_dir, port, http_port))

    def up(self) -> str:
        if Server.refuse:
            raise ClickHouseLocalError(Server.refuse)
        return "clickhouse://default@127.0.0.1:29000/default"


@pytest.fixture(autouse=True)
def server(monkeypatch: pytest.MonkeyPatch) -> None:
    Server.made, Server.refuse = [], None
    monkeypatch.setattr(clickhouse_cli, "LocalClickHouse", Server)


def test_up_prints_the_dsn_of_the_server_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["up", "--data-dir", str(tmp_path), "--port", "29000", "--http-port", "28123"]
    assert clickhouse_cli.main(args) == 0
    assert Server.made == [(tmp_path, 29000, 28123)]
    out = capsys.readouterr()
    assert out.out == "clickhouse://default@127.0.0.1:29000/default\n"
    assert out.err.startswith("started in ") and out.err.endswith("s\n")


def test_a_refusal_is_one_error_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Server.refuse = "port 29000 is taken: pass --port"
    assert clickhouse_cli.main(["up", "--data-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "error: port 29000 is taken: pass --port\n"


def test_install_prints_where_the_server_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def installed(*args: Any) -> Path:
        return Path("/opt/ch/clickhouse")

    monkeypatch.setattr(clickhouse_cli, "ensure_installed", installed)
    assert clickhouse_cli.main(["install"]) == 0
    assert capsys.readouterr().out == "clickhouse-server: /opt/ch/clickhouse\n"
