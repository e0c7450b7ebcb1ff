"""`dana-wf produce`'s options (cli/worker.produce_command, session 16 reworked its call): topics are
created with the settings' partitions and replication unless --partitions / --replication say otherwise,
an input produced without --epoch keeps its run ids (epoch 0), and --quiet prints no summary (its --help:
"no progress bar and no summary"). The broker is replaced at produce_lines, so the command's own job is
what is tested (mutation pass, session 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.streams.kafka import producer

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = str(ROOT / "docs" / "examples" / "claims" / "claims.yaml")


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    async def produce_lines(pipeline: Any, topology: Any, bootstrap: str, lines: Any, **kw: Any) -> Any:
        calls.append({"bootstrap": bootstrap, "lines": list(lines), **kw})
        return producer.ProduceSummary(lines=1, audit_rows=2, seconds=0.5)

    monkeypatch.setattr(producer, "produce_lines", produce_lines)
    monkeypatch.setenv("DWF_TOPIC_PARTITIONS", "6")
    monkeypatch.setenv("DWF_TOPIC_REPLICATION", "3")
    return calls


def _produce(tmp_path: Path, *args: str) -> Any:
    events = tmp_path / "e.jsonl"
    events.write_text('{"claim_id": "c1"}\n')
    return CliRunner().invoke(app, ["produce", CLAIMS, "-i", str(events), "-b", "b:1", *args])


def test_topics_take_the_settings_partitions_and_replication(
    asked: list[dict[str, Any]], tmp_path: Path
) -> None:
    res = _produce(tmp_path)
    assert res.exit_code == 0, res.output
    (call,) = asked
    assert (call["partitions"], call["replication"], call["epoch"]) == (6, 3, 0)
    assert "1 events to " in res.output  # the summary


def test_the_options_override_the_settings(asked: list[dict[str, Any]], tmp_path: Path) -> None:
    res = _produce(tmp_path, "--partitions", "2", "--replication", "2", "--epoch", "5")
    assert res.exit_code == 0, res.output
    (call,) = asked
    assert (call["partitions"], call["replication"], call["epoch"]) == (2, 2, 5)


def test_quiet_prints_no_summary(asked: list[dict[str, Any]], tmp_path: Path) -> None:
    res = _produce(tmp_path, "--quiet")
    assert res.exit_code == 0, res.output
    assert len(asked) == 1 and res.output.strip() == ""
