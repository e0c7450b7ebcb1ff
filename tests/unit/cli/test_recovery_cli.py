"""`dana-wf recovery report` in-process, on an embedded ClickHouse audit store holding the rows a real
local run wrote: a transform whose function times out on large amounts and fails on negative ones, with a
ladder that sends timeouts to review and retries other failures before the default (docs/recovery.md).

Expected figures, from the ladder: the large amount's timeout skips to review (1 attempt, 1 success); the
negative amount fails its retry (1 attempt, 0 successes) and takes the default (1, 1); the ordinary
amount never fails.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.streams.local.outputs import OutputFiles
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: scores
input: {amount: double}
steps:
  - score:
      transform:
        function: "tests.unit.cli.test_recovery_cli:score"
        outputs: {score: double}
      recovery:
        ladder: [retry, default, review]
        retry: {max_attempts: 2}
        default: {score: 0.0}
        rules: [{when_error: timeout, start_at: review}]
"""


def score(payload: dict[str, float]) -> dict[str, float]:
    if payload["amount"] > 100.0:
        raise TimeoutError("the scoring service did not answer")
    if payload["amount"] < 0.0:
        raise ValueError("no score for a negative amount")
    return {"score": payload["amount"] / 100.0}


@pytest.fixture
def audit(tmp_path: Path) -> str:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    ctx = StepContext(clock=lambda: 1_800_000_000_000_000)
    runtime = LocalRuntime(
        pipeline, topology, OutputFiles(tmp_path / "out", topology), collect_rows(rows), ctx
    )
    lines = [json.dumps({"amount": a}) for a in (5.0, 500.0, -1.0)]
    asyncio.run(runtime.run(lines))
    store = ChdbAuditStore(tmp_path / "audit")
    try:
        store.insert(rows)
    finally:
        store.close()
    return f"chdb://{tmp_path / 'audit'}"


def figures(audit: str, *options: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["recovery", "report", "--audit", audit, "--json", *options])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.output)
    return parsed


def test_each_rung_is_counted_per_error_class(audit: str) -> None:
    got = figures(audit)
    assert got["events"] == 2
    assert [(r["error_class"], r["rung"], r["attempts"], r["successes"]) for r in got["rungs"]] == [  # type: ignore[attr-defined]
        ("step_error", "retry", 1, 0),
        ("step_error", "default", 1, 1),
        ("timeout", "review", 1, 1),
    ]
    table = CliRunner().invoke(app, ["recovery", "report", "--audit", audit, "-w", "scores"])
    assert table.exit_code == 0 and "step_error" in table.output and "100.0%" in table.output


def test_a_selection_narrows_the_rows(audit: str) -> None:
    assert figures(audit, "--since", "2030-01-01")["rungs"] == []
    assert figures(audit, "--until", "2030-01-01")["events"] == 2
    assert figures(audit, "-w", "other")["events"] == 0
    empty = CliRunner().invoke(app, ["recovery", "report", "--audit", audit, "--since", "2030-01-01"])
    assert empty.exit_code == 0 and "no recovery attempts in period" in empty.output
    bad = CliRunner().invoke(app, ["recovery", "report", "--audit", audit, "--until", "tomorrow"])
    assert bad.exit_code == 2


def test_validate_names_every_ladder_mistake_at_once(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        SPEC.replace("ladder: [retry, default, review]", "ladder: [retyr, fallback_model, default]")
        .replace("        default: {score: 0.0}\n", "")
        .replace("when_error: timeout", "when_error: timeot")
    )
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())  # the console may wrap long lines
    assert "5 problems" in out
    assert "recovery.ladder[0]: unknown rung 'retyr' (fix: did you mean 'retry'?)" in out
    assert "the default rung needs the payload fields it sets" in out
    assert "only llm steps call a model" in out
    assert "unknown error class 'timeot' (fix: did you mean 'timeout'?)" in out
    assert "rung 'review' is not on this step's ladder ['fallback_model', 'default', 'dlq']" in out
    assert "Traceback" not in out


def test_a_fix_with_brackets_is_printed_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("ladder: [retry, default, review]", "ladder: retry"))
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 1
    assert "(fix: recovery: {ladder: [retry, default, dlq]," in " ".join(result.output.split())
