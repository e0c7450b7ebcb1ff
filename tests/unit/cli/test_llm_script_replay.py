"""`--llm-script` on `dlq replay` and `review decide`: an event of an offline run is replayed offline.

Without it a replay of an llm step went to the default endpoint, failed, and a failed replay is final
(docs/review.md): the user who ran the README's offline example could never replay an llm step's dead
letters (NEWCOMER5, session 19, N5-9). Expected outcomes follow the spec and the scripts: the first model
refuses every request (400: not retried, the step's retry sends it to dlq); the second answers
`{"label": "ok"}`, which the route sends to out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from tests.unit.cli.offline_llm import ANSWERS, REFUSES, SPEC

pytestmark = pytest.mark.unit


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x] if path.exists() else []


def test_a_dead_letter_of_an_offline_run_is_replayed_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_LLM_CACHE_PATH", str(tmp_path / "llm-cache"))  # no answer cached by another run
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "events.jsonl").write_text('{"id": "a", "text": "hello"}\n')
    (tmp_path / "refuses.yaml").write_text(REFUSES)
    (tmp_path / "answers.yaml").write_text(ANSWERS)
    spec, out, audit = str(tmp_path / "spec.yaml"), tmp_path / "out", f"chdb://{tmp_path / 'audit'}"
    common = ["--out", str(out), "--audit", audit]
    runner = CliRunner()

    ran = runner.invoke(
        app,
        [
            "run",
            spec,
            "-i",
            str(tmp_path / "events.jsonl"),
            *common,
            "-q",
            "--llm-script",
            str(tmp_path / "refuses.yaml"),
        ],
    )
    assert ran.exit_code == 0, ran.output
    (dead,) = _lines(out / "dwf.offline.dlq.jsonl")
    run_id = str(dead["run_id"])

    on_kafka = runner.invoke(
        app,
        [
            "dlq",
            "replay",
            spec,
            "--event",
            run_id,
            "--broker",
            "127.0.0.1:1",
            *common,
            "--llm-script",
            "x.yaml",
        ],
    )
    assert on_kafka.exit_code == 2 and "with --broker the workers run them" in on_kafka.output

    replayed = runner.invoke(
        app,
        ["dlq", "replay", spec, "--event", run_id, *common, "--llm-script", str(tmp_path / "answers.yaml")],
    )
    assert replayed.exit_code == 0, replayed.output
    assert f"{run_id}: out" in replayed.output
    assert [r["payload"]["label"] for r in _lines(out / "dwf.offline.out.jsonl")] == ["ok"]
