"""The drift values of a batch's events travel in one drift-values message (streams/kafka/drift_agent.py).

Driven through the Kafka runtime's own code without a broker (a ``KafkaRuntime`` built but never
connected, its committer recording the sends, tests/unit/drift/test_drift_alerts.py): the step agent
handles a batch and sends one values message per source partition, in the order the records were handled;
the drift agent counts a batched message exactly as it counts the same events one message each (the form a
worker sent before batching, still read); a message with one bad event goes to dlq whole, nothing counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import DLQ, ENTRY
from dana_workflows.streams.kafka import drift_agent
from dana_workflows.streams.kafka.drift_agent import drift_values
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime, values
from tests.unit.drift.test_drift_local_runtime import STEADY, claims_lines

pytestmark = pytest.mark.unit

PRODUCED_AT_US = 1_700_000_000_000_000


async def step_batch(tmp_path: Path, n: int) -> tuple[Any, list[tuple[str, Any]], list[SimpleNamespace]]:
    """``n`` admitted claims, alternating between two source partitions, handled as one batch."""
    runtime, _, committer = offline_kafka_runtime(STEADY, tmp_path)
    steps, node = runtime.steps, runtime.pipeline.entry_node
    ctx, now_us = steps._step_context()
    in_topic, in_sid = runtime.context.topic(node.input), runtime.topology.schema_id(ENTRY)
    batch = []
    for i, line in enumerate(claims_lines(n, seed=3, seconds_apart=0.6)):
        adm = admit(runtime.pipeline.workflow, line, i, PRODUCED_AT_US + i)
        assert adm.accepted
        value = steps.serde.encode(adm.envelope, in_sid)
        batch.append(SimpleNamespace(value=value, headers=[], topic=in_topic, partition=i % 2, offset=i // 2))
    await steps.handle(node, ctx, now_us, batch)
    return runtime, committer.sent, batch


async def test_a_batch_sends_the_values_of_each_source_partition_in_one_message(tmp_path: Path) -> None:
    runtime, sent, batch = await step_batch(tmp_path, 10)
    values_topic = runtime.extras.drift_tap.values_topic
    messages = [value for topic, value in sent if topic == values_topic]
    assert len(messages) == 2  # one per source partition, not one per event
    for partition, message in enumerate(messages):  # sections go partition by partition, as first seen
        # each event once, in the order its records were handled (admission times: PRODUCED_AT_US + i)
        expected = [PRODUCED_AT_US + i for i, m in enumerate(batch) if m.partition == partition]
        assert [event["p"] for event in drift_values(message)] == expected


async def test_values_messages_are_cut_at_their_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift_agent, "VALUES_MESSAGE_BYTES", 1)  # every event's values reach it alone
    runtime, sent, _ = await step_batch(tmp_path, 6)
    values_topic = runtime.extras.drift_tap.values_topic
    messages = [drift_values(value) for topic, value in sent if topic == values_topic]
    assert [len(m) for m in messages] == [1] * 6
    assert sorted(m[0]["p"] for m in messages) == [PRODUCED_AT_US + i for i in range(6)]


def carried(kind: str, ts: int) -> dict[str, Any]:
    """What a step agent's tap collects for one event of the alerty workflow."""
    return {"v": {"kinds": kind}, "p": ts * 1_000_000, "t": ts}


async def agent_sends(tmp_path: Path, messages: list[bytes]) -> tuple[Any, list[tuple[str, Any]]]:
    _, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    topic = agent.tap.values_topic
    msgs = [SimpleNamespace(value=v, topic=topic, partition=0, offset=i) for i, v in enumerate(messages)]
    for start in range(0, len(msgs), 7):  # batches of several messages, as the agent loop hands them
        await agent._each(msgs[start : start + 7])
    return agent, [s for s in committer.sent if s[0] != "done"]


async def test_a_batched_message_counts_as_its_events_one_message_each(tmp_path: Path) -> None:
    events = [carried(kind, ts) for kind, ts in values()]
    agent, one_each = await agent_sends(tmp_path / "one", [json.dumps(e).encode() for e in events])
    chunks = [events[i : i + 50] for i in range(0, len(events), 50)]
    _, batched = await agent_sends(tmp_path / "batched", [json.dumps(c).encode() for c in chunks])
    assert sum(1 for topic, _ in one_each if topic == agent.records_topic) >= 6  # windows closed
    assert agent.late == 1  # the late event of values(), counted once
    # the same drift records and the same audit rows, each in the same order (how the two interleave
    # follows the batches: a section sends its rows ahead of its records)
    for kind in ("audit", agent.records_topic):
        assert [v for k, v in batched if k == kind] == [v for k, v in one_each if k == kind]


async def test_a_values_message_with_one_bad_event_goes_to_dlq_whole(tmp_path: Path) -> None:
    runtime, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    bad = json.dumps([carried("a", 5), {"v": {"kinds": "b"}}]).encode()  # the second has no "p"
    msg = SimpleNamespace(value=bad, key=None, topic=agent.tap.values_topic, partition=0, offset=0)
    await agent._each([msg])
    assert committer.sent == [(runtime.context.topic(DLQ), bad), ("done", 0)]  # as it came; none counted


def test_drift_values_reads_both_forms_and_refuses_anything_else() -> None:
    one = carried("a", 1)
    assert drift_values(json.dumps(one).encode()) == [one]  # a message of a worker before batching
    assert drift_values(json.dumps([one, one]).encode()) == [one, one]
    for bad in (b"[1]", b'{"v": 1, "p": 1}', b'[{"v": {}}]', b"not json", b'{"v": {}, "p": "x"}'):
        with pytest.raises((ValueError, KeyError, TypeError)):
            drift_values(bad)
