"""What a Kafka worker attaches beyond its step agents (streams/kafka/extras.py), on a KafkaRuntime built but
never connected: with drift monitors declared, `start` creates the drift-values topic with ONE partition (the
drift agent needs one ordered stream) before the metrics endpoint; without them, no topic; a workflow
without llm steps has no LLM client; the step agents' records are counted in the worker's metrics once the
batch ran, and a poison record as a dlq under `deserialize`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.kafka import extras as extras_module
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec
from tests.unit.drift.test_drift_alerts import RecordingCommitter

pytestmark = pytest.mark.unit

PLAIN = """
workflow: plain
input: {amount: double}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
"""
DRIFTING = (
    PLAIN.replace("workflow: plain", "workflow: drifting")
    + """
drift:
  monitors:
    - {id: amount, field: amount, feature: numeric}
"""
)


def offline(spec: str, tmp_path: Path) -> Any:
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = compile_pipeline(parse_spec(spec))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="broker:9092", data_dir=tmp_path, metrics_port=None, replication=3)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)
    runtime.context.committer = RecordingCommitter()  # type: ignore[assignment]
    return runtime


@pytest.fixture
def topics(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    made: list[tuple[Any, ...]] = []

    async def ensure_topics(
        bootstrap: str, names: list[str], partitions: int, replication: int, **kw: Any
    ) -> None:
        made.append((bootstrap, list(names), partitions, replication, kw.get("security")))

    monkeypatch.setattr(extras_module, "ensure_topics", ensure_topics)
    return made


def test_with_drift_the_values_topic_has_one_partition(tmp_path: Path, topics: list[tuple[Any, ...]]) -> None:
    runtime = offline(DRIFTING, tmp_path)
    extras = runtime.extras
    assert extras.drift_tap is not None and extras.drift_agent is not None
    asyncio.run(extras.start())
    assert topics == [("broker:9092", [extras.drift_tap.values_topic], 1, 3, runtime.options.security)]
    asyncio.run(extras.stop())


def test_without_drift_or_llm_steps_nothing_extra(tmp_path: Path, topics: list[tuple[Any, ...]]) -> None:
    extras = offline(PLAIN, tmp_path).extras
    assert extras.drift_tap is None and extras.drift_agent is None
    assert extras.llm is None
    asyncio.run(extras.start())
    assert topics == []
    outs: list[Any] = [("t", b"k", b"v", None)]
    assert extras.batched("t", 0, outs) == outs
    asyncio.run(extras.stop())


def test_records_are_counted_once_their_batch_ran_and_poison_as_deserialize(tmp_path: Path) -> None:
    runtime = offline(PLAIN, tmp_path)
    steps, metrics = runtime.steps, runtime.extras.metrics.metrics
    node = runtime.pipeline.entry_node
    in_topic = runtime.context.topic(ENTRY)
    msgs = []
    for offset, amount in enumerate((5.0, -1.0)):
        adm = admit(runtime.pipeline.workflow, json.dumps({"amount": amount}), offset, 1_000 + offset)
        value = steps.serde.encode(adm.envelope, runtime.topology.schema_id(ENTRY))
        msgs.append(
            SimpleNamespace(value=value, key=None, headers=[], topic=in_topic, partition=0, offset=offset)
        )
    msgs.append(
        SimpleNamespace(value=b"\x00junk", key=None, headers=[], topic=in_topic, partition=0, offset=2)
    )
    ctx, now_us = steps._step_context()
    asyncio.run(steps.handle(node, ctx, now_us, msgs))
    step = node.path
    assert metrics.value("dwf_events_in_total", workflow="plain", step=step) == 2
    assert metrics.value("dwf_events_out_total", workflow="plain", step=step, outcome="emit") == 1
    assert metrics.value("dwf_events_out_total", workflow="plain", step=step, outcome="reject") == 1
    assert metrics.value("dwf_rule_rejections_total", workflow="plain", rule="positive") == 1
    assert metrics.value("dwf_dlq_total", workflow="plain", step="deserialize") == 1
