"""Short client commands say a broker that is down in one line of their own: aiokafka's "Unable connect
to ..." and its retry warnings are held back while they talk to Kafka (newcomer review F9, F21), and the
loggers' levels are given back after, so a worker in the same process keeps them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.conventions import quieted
from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port
from tests.unit.cli.test_first_hour_session16 import ORDERS

pytestmark = pytest.mark.unit

runner = CliRunner()


def test_quieted_raises_the_levels_for_the_block_and_gives_them_back_even_on_an_error() -> None:
    first, second = logging.getLogger("dwf.test.first"), logging.getLogger("dwf.test.second")
    first.setLevel(logging.INFO)
    second.setLevel(logging.NOTSET)
    with pytest.raises(RuntimeError), quieted("dwf.test.first", "dwf.test.second", level=logging.ERROR):
        assert (first.level, second.level) == (logging.ERROR, logging.ERROR)
        assert not first.isEnabledFor(logging.WARNING) and first.isEnabledFor(logging.ERROR)
        raise RuntimeError("the command failed")
    assert (first.level, second.level) == (logging.INFO, logging.NOTSET)


@pytest.mark.parametrize("command", ["produce", "status"])
def test_a_broker_that_is_down_is_our_line_only(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    (tmp_path / "orders.yaml").write_text(ORDERS)
    event = {"order_id": "O1", "qty": 1, "price": 1.0, "country": "DE"}
    (tmp_path / "orders.jsonl").write_text(json.dumps(event) + "\n")
    broker = f"127.0.0.1:{free_port()}"
    args = [command, "orders.yaml", "--broker", broker]
    if command == "produce":
        args += ["--input", "orders.jsonl", "--quiet"]
    caplog.set_level(logging.DEBUG)
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert f"no Kafka broker answers at {broker}" in res.output
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aiokafka")] == []
    assert logging.getLogger("aiokafka").level != logging.CRITICAL  # given back after the command
