"""The local services' commands without starting Java or ClickHouse: `dana-wf kafka status|down|up` on a
data dir with no broker (exit 1 for "not running", as docs/kafka.md says, so scripts can test it; one
`error:` line for what `up` refuses), and `python -m dana_workflows.cli.clickhouse status|down` (exit 3 when
no server runs), both through their real argument parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli import clickhouse as clickhouse_cli
from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port

pytestmark = pytest.mark.unit

runner = CliRunner()


def test_kafka_status_of_an_empty_data_dir_says_not_running_and_exits_1(tmp_path: Path) -> None:
    res = runner.invoke(app, ["kafka", "status", "--data-dir", str(tmp_path)])
    assert res.exit_code == 1
    assert res.output.strip() == f"Kafka not running (data dir {tmp_path.resolve()})"
    as_json = runner.invoke(app, ["kafka", "status", "--data-dir", str(tmp_path), "--json"])
    assert as_json.exit_code == 1
    state = json.loads(as_json.output)
    assert state == {
        "running": False,
        "pid": None,
        "port": None,
        "bootstrap": None,
        "data_dir": str(tmp_path.resolve()),
        "answering": False,
    }


def test_kafka_down_without_a_broker(tmp_path: Path) -> None:
    res = runner.invoke(app, ["kafka", "down", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0
    assert res.output.strip() == "Kafka was not running"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sasl-port", "1"], "needs both --sasl-port and --sasl-users"),
        (["--sasl-ssl-port", "1"], "needs both --sasl-ssl-port and --sasl-users"),
        (["--sasl-port", "1", "--sasl-users", "nopassword"], "has no password"),
    ],
)
def test_kafka_up_refusals_are_one_error_line_and_exit_1(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    port = free_port()
    res = runner.invoke(app, ["kafka", "up", "--port", str(port), "--data-dir", str(tmp_path), *extra])
    assert res.exit_code == 1
    assert res.output.startswith("error: ") and message in res.output
    assert "Traceback" not in res.output


def test_kafka_up_on_one_port_for_both_listeners(tmp_path: Path) -> None:
    port = free_port()
    res = runner.invoke(
        app, ["kafka", "up", "--port", str(port), "--controller-port", str(port), "--data-dir", str(tmp_path)]
    )
    assert res.exit_code == 1
    assert f"port and controller port are both {port}" in res.output


def test_clickhouse_status_and_down_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert clickhouse_cli.main(["status", "--data-dir", str(tmp_path)]) == 3
    state = json.loads(capsys.readouterr().out)
    assert state["running"] is False and state["pid"] is None
    assert state["dsn"] == "clickhouse://default@127.0.0.1:19000/default"
    assert clickhouse_cli.main(["down", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "not running"


def test_clickhouse_status_reads_the_ports_back_from_the_rendered_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dana_workflows.devservices.clickhouse.server import LocalClickHouse

    LocalClickHouse(data_dir=tmp_path, tcp_port=29123, http_port=28124)._write_config()
    assert clickhouse_cli.main(["status", "--data-dir", str(tmp_path)]) == 3
    assert json.loads(capsys.readouterr().out)["dsn"] == "clickhouse://default@127.0.0.1:29123/default"


def test_clickhouse_refuses_an_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        clickhouse_cli.main(["restart"])
    assert exc.value.code == 2
    assert "invalid choice: 'restart'" in capsys.readouterr().err


def test_llm_status_without_a_server_is_exit_3_with_its_state(tmp_path: Path) -> None:
    res = runner.invoke(app, ["llm", "status", "--data-dir", str(tmp_path)])
    assert res.exit_code == 3
    assert json.loads(res.output) == {"running": False, "healthy": False, "info": None}
    down = runner.invoke(app, ["llm", "down", "--data-dir", str(tmp_path)])
    assert down.exit_code == 0 and down.output.strip() == "not running"


def test_llm_up_refusal_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["llm", "up", "--port", str(free_port()), "--data-dir", str(tmp_path), "--ctx-size", "100"]
    )
    assert res.exit_code == 1
    assert res.output.startswith("error: ") and "each slot needs at least 256 tokens" in res.output


def test_the_llm_test_server_refuses_a_bad_script_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "script.yaml"
    bad.write_text("rules:\n  - nmae: typo\n")
    res = runner.invoke(app, ["dev", "llm-server", "--script", str(bad), "--port", "0"])
    assert res.exit_code == 2
    assert f"error: {bad}: invalid LLM server script" in res.output
