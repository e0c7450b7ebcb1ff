"""The 100,000-event stationary stream through the Kafka runtime's drift path: no warn, no alert.

tests/unit/drift/test_drift_local_runtime.py checks it for ``dana-wf run``'s runtime; this drives the Kafka
runtime's own code without a broker, as tests/unit/drift/test_drift_alerts.py does: a ``KafkaRuntime``
built but
never connected, only its committer replaced by one that records the sends. Each event is admitted and
Avro-encoded as ``dana-wf produce`` does, handled by the real step agent (``StepAgents.handle``: decode, the
steps, the drift tap adding its values and sending the drift-values message at the end of the journey), and
that message is handed to the real ``DriftAgent.handle`` (observer, table state, record encoding, metrics).

Same workflow, events and default thresholds as the local runtime's test (warn 0.1, alert 0.2, tumbling
3600 s windows, the reference learned from the first window). A stream has no end in Kafka mode, so the
last (17th) hour stays open: 16 windows per monitor close, by the watermark, and their records must be
exactly the local runtime's for the same hours. About 10 s for the 100,000 events on a slow machine.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from tests.unit.drift.test_drift_alerts import offline_kafka_runtime
from tests.unit.drift.test_drift_local_runtime import STEADY, claims_lines, run_steady

pytestmark = pytest.mark.unit

EVENTS = 100_000
MONITORS = ("currency", "amount", "description")
CLOSED = 16  # hours closed by the watermark (6000 claims an hour, the 17th still open)
PRODUCED_AT_US = 1_700_000_000_000_000


async def run_kafka_drift(tmp_path: Path, lines: list[str]) -> tuple[Any, list[tuple[str, Any]]]:
    """Every line through the step agent, then its drift-values message through the drift agent; the
    drift agent's sends (audit rows and drift records, not its offsets)."""
    runtime, agent, committer = offline_kafka_runtime(STEADY, tmp_path)
    pipeline, topo = runtime.pipeline, runtime.topology
    node = pipeline.entry_node
    steps = runtime.steps  # the step agents (the entry's chain: all steps, fused)
    ctx, now_us = steps._step_context()
    in_topic, in_sid = runtime.context.topic(node.input), topo.schema_id(ENTRY)
    values_topic = agent.tap.values_topic
    agent_sent: list[tuple[str, Any]] = []
    for offset, line in enumerate(lines):
        adm = admit(pipeline.workflow, line, offset, PRODUCED_AT_US + offset)
        assert adm.accepted
        step_msg = SimpleNamespace(
            value=steps.serde.encode(adm.envelope, in_sid),
            headers=[],
            topic=in_topic,
            partition=0,
            offset=offset,
        )
        committer.sent.clear()
        await steps.handle(node, ctx, now_us, [step_msg])
        (carried,) = [value for topic, value in committer.sent if topic == values_topic]
        committer.sent.clear()
        await agent.handle(SimpleNamespace(value=carried, topic=values_topic, partition=0, offset=offset))
        agent_sent.extend(sent for sent in committer.sent if sent[0] != "done")
    return agent, agent_sent


def decode_record(agent: Any, value: bytes) -> dict[str, Any]:
    buf = io.BytesIO(value)
    buf.seek(5)  # magic byte and schema id
    record: dict[str, Any] = fastavro.schemaless_reader(buf, agent.records_schema)  # type: ignore[assignment]
    return record


async def test_stationary_100k_events_through_the_kafka_drift_agent_never_warn(tmp_path: Path) -> None:
    lines = claims_lines(EVENTS, seed=2, seconds_apart=0.6)  # the local runtime test's events
    agent, sent = await run_kafka_drift(tmp_path / "kafka", lines)
    metrics = agent.metrics

    # windows closed, all by the watermark, none late, nothing warned or alerted
    assert agent.windows == len(MONITORS) * CLOSED
    assert agent.late == 0 and agent.alerts == []
    rows: list[AuditRow] = [row for topic, row in sent if topic == "audit"]
    drift_rows = [r for r in rows if r.kind == "drift"]
    assert len(drift_rows) == agent.windows and len(rows) == agent.windows
    assert {r.decision for r in drift_rows} == {"ok"} and all(r.reason == "" for r in drift_rows)
    assert verify_rows(rows).ok  # the drift audit chain, continued through the table state
    kafka = [json.loads(r.details) for r in drift_rows]
    assert {(r["warn_psi"], r["alert_psi"], r["window_end_us"] - r["window_start_us"]) for r in kafka} == {
        (0.1, 0.2, 3_600_000_000)
    }
    assert all(r["closed_by"] == "watermark" for r in kafka)
    scored = [r for r in kafka if r["psi"] is not None]
    assert len(scored) == len(MONITORS) * (CLOSED - 1)  # the first hour is the reference
    assert not any(r["below_min_count"] for r in scored)
    worst = max(scored, key=lambda r: r["psi"])
    assert worst["psi"] < 0.05, worst

    # the records on the drift topic are those, Avro-encoded
    published = [decode_record(agent, value) for topic, value in sent if topic == agent.records_topic]
    assert len(published) == agent.windows
    assert [(r["monitor"], r["window_start_us"], r["level"], r["psi"]) for r in published] == [
        (r["monitor"], r["window_start_us"], r["level"], r["psi"]) for r in kafka
    ]

    # Prometheus: the alert counters exist and stay at 0, the scores are published
    for monitor in MONITORS:
        labels = {"workflow": "steady", "monitor": monitor}
        for level in ("warn", "alert"):
            sample = metrics.registry.get_sample_value("dwf_drift_alerts_total", {**labels, "level": level})
            assert sample == 0.0, (monitor, level, sample)
        assert 0.0 <= metrics.value("dwf_drift_psi", **labels) < 0.05
    assert metrics.value("dwf_drift_late_events_total", workflow="steady") == 0.0

    # the same hours, the same records as dana-wf run's runtime (which also flushes the open hour)
    local, summary = await run_steady(tmp_path / "local", lines)
    assert summary.drift_windows == len(MONITORS) * (CLOSED + 1) and summary.drift_alerts == []
    assert kafka == [vars(r) for r in local if r.closed_by == "watermark"]
