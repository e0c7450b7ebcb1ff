"""The drift agent counts each drift-values message's events as one run (``DriftObserver.observe_many``),
not one ``observe`` call per event, and sends what one call per event sends: the same drift records, audit
rows and table state (the equality itself: tests/unit/drift/test_drift_observe_many.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.streams.kafka.drift_agent import values_json
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime

pytestmark = pytest.mark.unit


def message(agent: Any, offset: int, events: list[tuple[str, int]]) -> Any:
    value = values_json([{"v": {"kinds": k}, "p": ts * 1_000_000, "t": ts} for k, ts in events])
    key = f"{agent.ctx.topic(ENTRY)}:0".encode()
    arrived = 1_700_000_000.0 + 40 * offset
    topic = agent.tap.values_topic
    return SimpleNamespace(value=value, key=key, timestamp=arrived, topic=topic, partition=0, offset=offset)


async def run_agent(tmp_path: Path, per_event: bool) -> tuple[list[Any], list[int], int]:
    """The agent over three messages of 120 events each, 40 s apart (windows close in the later two: the
    partitions that never sent go idle after 30 s); with ``per_event`` its observer counts one event per
    call (the spec), else as the agent calls it."""
    _, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    runs: list[int] = []
    observer = agent.observer
    many, one_call = observer.observe_many, observer.observe

    def counted(events: Any) -> Any:
        runs.append(len(events))
        if per_event:
            one = [one_call(*event) for event in events]
            return [report for report in one if report.rows]
        return many(events)

    observer.observe_many = counted
    observer.observe = None  # the agent must not call it
    for m in range(3):
        kinds = [("abc"[i % 3 if i % 7 else 0], m * 120 + i) for i in range(120)]
        await agent._each([message(agent, m, kinds)])
    return committer.sent, runs, agent.late


def in_order_and_changes(sent: list[tuple[str, Any]]) -> tuple[list[Any], list[list[str]]]:
    """The sends in order (rows, drift records, offsets) and each section's table changes as a sorted list
    (the changelog takes each changed key once, in the order the run first changed them)."""
    ordered: list[Any] = []
    changes: list[list[str]] = [[]]
    for topic, value in sent:
        if "changelog" in topic:
            changes[-1].append(repr(value))
            continue
        ordered.append((topic, value.as_tuple() if hasattr(value, "as_tuple") else value))
        if topic == "done":
            changes[-1].sort()
            changes.append([])
    return ordered, changes


async def test_each_message_is_one_run_with_the_sends_of_one_call_per_event(tmp_path: Path) -> None:
    sent, runs, late = await run_agent(tmp_path / "a", per_event=False)
    expected, _, expected_late = await run_agent(tmp_path / "b", per_event=True)
    assert runs == [120, 120, 120]
    assert late == expected_late
    ordered, changes = in_order_and_changes(sent)
    assert any(topic.endswith(".drift") for topic, _ in ordered)  # windows closed
    assert (ordered, changes) == in_order_and_changes(expected)
