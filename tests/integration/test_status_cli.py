"""`dana-wf status` (issue 20) on the real broker: before a worker runs, every admitted event is lag on the
entry topic; after an exactly-once worker drained them, there is no lag (commit markers are not counted as
records) and the outcomes add up to every event produced."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    start_worker,
    stop_worker,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration


async def _status(bootstrap: str, prefix: str) -> tuple[dict[str, int], dict[str, int], str]:
    """(lag per entry partition, records per outcome, the summary line) of `dana-wf status`."""
    args = ["status", str(CLAIMS_SPEC), "--broker", bootstrap, "--prefix", prefix]
    res = await asyncio.to_thread(CliRunner().invoke, app, args)  # the command runs its own event loop
    assert res.exit_code == 0, res.output
    entry = re.escape(f"{prefix}.claims-triage.in")
    row = rf"│ {entry}\s*│\s*(\d+) │\s*[-\d]+ │\s*\d+ │\s*(\d+) │"
    lags = {m[1]: int(m[2]) for m in re.finditer(row, res.output)}
    outcomes = {m[1]: int(m[2]) for m in re.finditer(r"│ (\w+)\s*│ \S+\s*│\s*(\d+) │", res.output)}
    return lags, outcomes, res.output.strip().splitlines()[-1]


async def test_status_shows_lag_then_every_outcome(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = claims_lines(200, seed=20)
    produced = await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    admitted, events = produced.outcomes["in"], sum(produced.outcomes.values())
    lags, before, summary = await _status(kafka_bootstrap, topic_prefix)
    assert sum(lags.values()) == admitted and len(lags) == 2  # all of it waits on the entry topic
    # admission refused the ill-typed lines at produce time: they are outcomes already
    assert before == {"out": 0, "rejected": produced.outcomes["rejected"], "dlq": produced.outcomes["dlq"]}
    assert f"{admitted} events on {topic_prefix}.claims-triage.in, {events - admitted} outcomes" in summary
    assert f"{admitted} records still to handle" in summary

    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, "exactly_once", partitions=2)
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(lines), 120, lambda: worker.poll() is None
        )
        assert sum(len(v) for v in got.values()) == len(lines)
        for _ in range(30):  # the offsets are committed a moment after the outcomes are produced
            lags, after, summary = await _status(kafka_bootstrap, topic_prefix)
            if "every event received has an outcome" in summary:
                break
    finally:
        stop_worker(worker)
    assert sum(lags.values()) == 0 and "every event received has an outcome" in summary
    assert after == {boundary: len(decided) for boundary, decided in got.items()}
    assert sum(after.values()) == events
    assert len({json.loads(d)["run_id"] for ds in got.values() for d in ds}) == events
