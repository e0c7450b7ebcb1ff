"""The drift agent passes each drift-values message's source (its key: the topic partition whose records
ended the events, ``DriftTap.batched``) and arrival time (its timestamp) to the observer, so a backlog's
batches from several partitions count no late event and close the windows the events in order close."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.streams.kafka import drift_agent
from dana_workflows.streams.kafka.drift_agent import arrival_us, values_json
from dana_workflows.streams.topology import DRIFT
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime

pytestmark = pytest.mark.unit

PARTITIONS = 4  # KafkaOptions' default: the hop sources the agent expects
BATCH = 150  # a partition's records in one step-agent batch: 600 s of event time, windows of 100 s + 10 s


def backlog(n: int, partitions: int) -> dict[int, list[tuple[str, int]]]:
    """(kind, ts) of claims one second apart, round robin over the partitions: each in its order."""
    out: dict[int, list[tuple[str, int]]] = {p: [] for p in range(partitions)}
    for i in range(n):
        out[i % partitions].append(("abc"[i * 7 % 5 % 3], i))
    return out


def messages(agent: Any, parts: dict[int, list[tuple[str, int]]], keyed: bool, apart_s: float) -> list[Any]:
    """The drift-values messages of the step agents' batches, the partitions taking turns."""
    topic = agent.ctx.topic(ENTRY)
    out = []
    for b in range(max(len(v) for v in parts.values()) // BATCH + 1):
        for p, events in parts.items():
            chunk = events[b * BATCH : (b + 1) * BATCH]
            if chunk:
                value = values_json([{"v": {"kinds": k}, "p": ts * 1_000_000, "t": ts} for k, ts in chunk])
                out.append(
                    SimpleNamespace(
                        value=value,
                        key=f"{topic}:{p}".encode() if keyed else None,
                        timestamp=1_700_000_000 + len(out) * apart_s,
                        topic=agent.tap.values_topic,
                        partition=0,
                        offset=len(out),
                    )
                )
    return out


async def drift_records(tmp_path: Path, msgs: Any) -> tuple[Any, list[bytes]]:
    _, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    for msg in msgs(agent):
        await agent._each([msg])
    records = [value for topic, value in committer.sent if topic == agent.ctx.topology.topic(DRIFT)]
    return agent, records


async def test_the_hop_sources_are_the_keys_the_tap_gives_its_messages(tmp_path: Path) -> None:
    _, agent, _ = offline_kafka_runtime(SPEC, tmp_path)
    topic = agent.ctx.topic(ENTRY)
    agent.tap._ended[(topic, 3)] = [{"v": {"kinds": "a"}, "p": 1}]
    [(_, key, _, _)] = agent.tap.batched(topic, 3, [])
    assert key.decode() in agent.sources
    assert agent.sources == [f"{topic}:{p}" for p in range(PARTITIONS)]


async def test_a_backlog_from_every_partition_counts_no_late_event(tmp_path: Path) -> None:
    parts = backlog(2400, PARTITIONS)
    in_order = {0: sorted((e for v in parts.values() for e in v), key=lambda e: e[1])}
    # the spec: the events in order through one source, as the local runtime reads them
    _, expected = await drift_records(tmp_path / "a", lambda a: messages(a, in_order, False, 0.01))
    agent, got = await drift_records(tmp_path / "b", lambda a: messages(a, parts, True, 0.01))
    assert agent.late == 0
    # the windows the lowest partition passed: all of them here (the last events of the four partitions
    # are within a second); a window whose close falls between them waits for later events
    assert len(got) >= len(expected) - 1 and len(expected) >= 20
    assert got == expected[: len(got)]
    # the same batches under one watermark for all (messages without a key): most of them late
    old, _ = await drift_records(tmp_path / "c", lambda a: messages(a, parts, False, 0.01))
    assert old.late > 1000


async def test_partitions_that_never_send_stop_holding_windows_after_the_idle_time(
    tmp_path: Path,
) -> None:
    parts = backlog(2400, 2)  # partitions 2 and 3 of the four get nothing
    held, none = await drift_records(tmp_path / "a", lambda a: messages(a, parts, True, 1.0))
    assert none == [] and held.late == 0  # 16 messages a second apart: within the 30 s idle time
    idle, got = await drift_records(tmp_path / "b", lambda a: messages(a, parts, True, 5.0))
    assert idle.late == 0 and len(got) >= 18  # 5 s apart: idle after the 7th, windows close from then


def test_arrival_reads_faust_seconds_and_a_consumer_records_milliseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert arrival_us(SimpleNamespace(timestamp=1_700_000_000.25)) == 1_700_000_000_250_000  # faust: seconds
    assert arrival_us(SimpleNamespace(timestamp=1_700_000_000_250)) == 1_700_000_000_250_000  # aiokafka: ms
    monkeypatch.setattr(drift_agent, "wall_clock_us", lambda: 42)
    assert arrival_us(SimpleNamespace(timestamp=None)) == 42
    assert arrival_us(SimpleNamespace()) == 42


async def test_a_batch_that_raises_leaves_the_hop_sources_to_be_expected_again(tmp_path: Path) -> None:
    # the first keyed message tells the observer the hop sources, in the batch's state changes; a batch
    # that raises discards those changes, so the next must tell them again, or partitions not yet heard
    # from stop holding the windows and their events come late
    _, agent, _ = offline_kafka_runtime(SPEC, tmp_path)
    msgs = messages(agent, backlog(2400, PARTITIONS), True, 0.01)
    observe_many = agent.observer.observe_many  # the agent counts a message's events in one call

    def broken(*args: Any) -> Any:
        raise RuntimeError("the batch fails after its first keyed message")

    agent.observer.observe_many = broken
    with pytest.raises(RuntimeError):
        await agent._each([msgs[0]])
    agent.observer.observe_many = observe_many
    for msg in msgs:  # redelivered from the failed one on
        await agent._each([msg])
    assert agent.late == 0
