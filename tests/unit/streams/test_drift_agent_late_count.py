"""The drift agent's per-event costs cut in session 16 (streams/kafka/drift_agent.py), with the counts it
had: the late events of a batch are counted once for the batch, to the same totals as one count per event."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka.drift_agent import values_json
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime

pytestmark = pytest.mark.unit


def late_batch(tmp_path: Path) -> tuple[Any, list[Any]]:
    """The alerty workflow's agent (windows of 100 s, 10 s of lateness) and one message: four events of
    window 0, one at 3 h 10 s (the watermark passes window 0's end and its lateness), then three more of
    window 0: late."""
    _, agent, _ = offline_kafka_runtime(SPEC, tmp_path)
    times = [10, 20, 30, 40, 3 * 3600 + 10, 50, 60, 70]
    message = values_json([{"v": {"kinds": "a"}, "p": t * 1_000_000, "t": t} for t in times])
    msg = SimpleNamespace(value=message, topic=agent.tap.values_topic, partition=0, offset=0)
    return agent, [msg]


async def test_a_batchs_late_events_are_counted_once_for_the_batch(tmp_path: Path) -> None:
    agent, batch = late_batch(tmp_path)
    calls: list[tuple[str, int]] = []
    real = agent.metrics.drift_late
    agent.metrics.drift_late = lambda wf, n=1: (calls.append((wf, n)), real(wf, n))
    await agent._each(batch)
    assert calls == [("alerty", 3)]  # one call with the batch's count, not one per event
    assert agent.late == 3
    late = agent.metrics.registry.get_sample_value("dwf_drift_late_events_total", {"workflow": "alerty"})
    assert late == 3.0
