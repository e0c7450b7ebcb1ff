"""Where `dana-wf review`/`dlq` resume find a run's last envelope (cli/resume_run.latest_items): a local run's
output file (the last record of each run wins, no file: nothing), or the boundary's topic read with the
cluster's security settings (the Kafka read stood in at its seam)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.cli.resume_run import Where, latest_items
from dana_workflows.core.settings import Settings
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.app_builder import topology_for
from dana_workflows.streams.kafka import resume_topics
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def topology() -> Topology:
    pipeline = compile_pipeline(load_spec(ROOT / "docs" / "examples" / "claims" / "claims.yaml"))
    return topology_for(pipeline, Settings(topic_prefix="dwf"))


def record(run: str, step: str, amount: float) -> dict[str, Any]:
    return {
        "event_id": f"e-{run}-{step}",
        "run_id": run,
        "workflow": "claims-triage",
        "workflow_version": 3,
        "step": step,
        "payload": {"amount": amount},
        "provenance": {"source": "test"},
    }


def test_a_local_runs_file_gives_each_runs_last_record(tmp_path: Path, topology: Topology) -> None:
    where = Where(tmp_path, None)
    assert latest_items(where, topology, "dlq", Settings()) == {}  # no file yet: nothing to resume
    lines = [record("r1", "check", 1.0), record("r2", "check", 2.0), record("r1", "triage", 3.0)]
    (tmp_path / f"{topology.topic('dlq')}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    items = latest_items(where, topology, "dlq", Settings())
    assert sorted(items) == ["r1", "r2"]
    r1 = items["r1"]
    assert (r1.event_id, r1.workflow, r1.workflow_version, r1.step, r1.payload) == (
        "e-r1-triage",
        "claims-triage",
        3,
        "triage",
        {"amount": 3.0},
    )
    assert r1.provenance == {"source": "test"}


def test_a_topic_is_read_with_the_clusters_security(
    monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    asked: list[tuple[str, str, str]] = []
    older = Envelope("e1", "r1", "claims-triage", 3, "check", {"amount": 1.0})
    newer = Envelope("e2", "r1", "claims-triage", 3, "triage", {"amount": 2.0})

    async def read_envelopes(broker: str, topo: Topology, topic: str, security: Any) -> list[Envelope]:
        asked.append((broker, topic, security.protocol))
        return [older, newer]

    monkeypatch.setattr(resume_topics, "read_envelopes", read_envelopes)
    settings = Settings(kafka_security_protocol="SSL")
    items = latest_items(Where(Path("/nowhere"), "b:9093"), topology, "dlq", settings)
    assert asked == [("b:9093", topology.topic("dlq"), "SSL")]
    assert items == {"r1": newer}
