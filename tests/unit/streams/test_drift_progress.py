"""A hop's progress in the drift-values messages (streams/kafka/drift_agent.py): a source partition whose
records went on to the next hop (no journey ended there, as in the per-step layout's middle steps) says how
far in event time it got (header ``dwf-drift-progress``), so its watermark moves and it does not hold the
windows back; the drift agent closes the windows that waited only for it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.streams.kafka import drift_agent
from dana_workflows.streams.kafka.drift_agent import H_FORWARDED, H_PROGRESS, values_json
from dana_workflows.streams.topology import DRIFT
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime
from tests.unit.streams.test_mut9_drift_tap import VALUES, drift_values, edge, tap

pytestmark = pytest.mark.unit

US = 1_000_000
PARTS = 4  # the entry hop's partitions (KafkaOptions' default): the sources the agent expects


def forward(t: Any, carried: dict[str, Any], source: tuple[str, int]) -> None:
    t.ended(carried, edge("check-tag", "tag"), [("acme.claims.check-tag", b"e", None)], source)


def test_records_forwarded_say_the_last_ones_event_time_in_an_empty_message() -> None:
    """The last record forwarded is where the partition's reading stands (in order, its latest time; out
    of order, the lower time holds the windows longer, never closes one early)."""
    t = tap()  # time_field "ts": event times from the carried "t", in seconds
    for ts in (100, 300, 200):
        forward(t, {"v": {}, "p": 1, "t": ts}, ("acme.claims.in", 2))
    forward(t, {"v": {}, "p": 1, "t": 999}, ("acme.claims.in", 1))  # another source
    [(topic, key, value, headers)] = t.batched("acme.claims.in", 2, [])
    assert (topic, key, value) == (VALUES, b"acme.claims.in:2", b"[]")
    assert headers == [(H_PROGRESS, str(200 * US).encode())]
    assert t.batched("acme.claims.in", 2, []) == []  # taken once
    no_field = tap(time_field=None)  # produced_at is the event time
    forward(no_field, {"v": {}, "p": 42}, ("in", 0))
    assert no_field.batched("in", 0, [])[0][3] == [(H_PROGRESS, b"42")]


def test_a_record_without_a_usable_time_says_nothing() -> None:
    t = tap()
    forward(t, {"v": {}, "p": 1, "t": "soon"}, ("in", 0))
    assert t.batched("in", 0, []) == []


def test_the_progress_rides_on_the_last_message_of_the_batchs_values(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [{"v": {"input": float(i)}, "p": i, "t": i} for i in range(3)]
    sizes = [len(drift_agent._dumps(e)) + 1 for e in events]
    # one message; cut with a rest (2 + 1); cut exactly at the last event (2 + 1 at the limit of 2 + 1)
    for limit in (sum(sizes) + 1, sizes[0] + sizes[1], sizes[2]):
        t = tap()
        for event in events:
            t.ended(event, edge("out", None), [], ("in", 0))
        forward(t, {"v": {}, "p": 1, "t": 50}, ("in", 0))
        monkeypatch.setattr(drift_agent, "VALUES_MESSAGE_BYTES", limit)
        kept = t.batched("in", 0, [])
        assert [e for _, _, v, _ in kept for e in drift_values(v)] == events
        progress = [(H_PROGRESS, str(50 * US).encode())]
        assert [h for *_, h in kept] == [[(H_FORWARDED, b"1")]] * (len(kept) - 1) + [progress]
    # a batch that forwarded nothing: no header on any part
    monkeypatch.setattr(drift_agent, "VALUES_MESSAGE_BYTES", sizes[0])
    t = tap()
    for event in events:
        t.ended(event, edge("out", None), [], ("in", 0))
    assert [h for *_, h in t.batched("in", 0, [])] == [None] * 3


def message(agent: Any, p: int, events: list[tuple[str, int]], progress: int | None, offset: int) -> Any:
    value = values_json([{"v": {"kinds": k}, "p": ts * US, "t": ts} for k, ts in events])
    return SimpleNamespace(
        value=value,
        key=f"{agent.ctx.topic(ENTRY)}:{p}".encode(),
        headers=None if progress is None else [(H_PROGRESS, str(progress * US).encode())],
        timestamp=1_700_000_000.0 + offset * 0.01,
        topic=agent.tap.values_topic,
        partition=0,
        offset=offset,
    )


async def windows_closed(tmp_path: Path, with_progress: bool) -> tuple[Any, list[bytes]]:
    """Partition 0 ends every journey (2,000 claims a second apart); partitions 1-3 forward all of theirs
    (empty messages), with or without their progress."""
    _, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    offset = 0
    for b in range(10):
        chunk = [("abc"[i % 3], i) for i in range(b * 200, (b + 1) * 200)]
        await agent._each([message(agent, 0, chunk, None, offset)])
        for p in (1, 2, 3):
            offset += 1
            await agent._each([message(agent, p, [], (b + 1) * 200 - 1 if with_progress else None, offset)])
        offset += 1
    return agent, [v for topic, v in committer.sent if topic == agent.ctx.topology.topic(DRIFT)]


async def test_the_agent_closes_windows_as_the_forwarding_partitions_progress(tmp_path: Path) -> None:
    agent, got = await windows_closed(tmp_path / "a", with_progress=True)
    assert agent.late == 0
    assert len(got) == 19  # windows of 0 s ... 1800 s (closing at 110 s ... 1910 s, before the last, 1999 s)
    held, none = await windows_closed(tmp_path / "b", with_progress=False)
    assert none == [] and held.late == 0  # without it, partitions 1-3 hold every window (within idle time)


async def test_a_progress_header_that_is_no_number_is_poison(tmp_path: Path) -> None:
    _, agent, _ = offline_kafka_runtime(SPEC, tmp_path)
    poisoned: list[tuple[Any, PoisonMessageError]] = []

    async def send_poison(msg: Any, exc: PoisonMessageError) -> None:
        poisoned.append((msg, exc))

    agent.ctx.send_poison = send_poison
    msg = message(agent, 0, [("a", 1)], None, 0)
    msg.headers = [(H_PROGRESS, b"later")]
    await agent._each([msg])
    assert [m for m, _ in poisoned] == [msg]
    assert agent.observer.monitor.watermark is None  # its events were not counted


@pytest.mark.parametrize("cut", [False, True])
async def test_a_slow_later_hop_is_not_idle_while_the_earlier_hop_forwards_to_it(
    tmp_path: Path, cut: bool
) -> None:
    """The entry hop's four partitions forward every record to a later hop (progress only), a batch a
    second; that hop ends the journeys half a second later, but is busy 40 s with one batch (an LLM step)
    while the entry hop goes on: its progress messages are no sign that the later hop is idle, since the
    records are in flight there. The events in order (the local runtime) count none late: neither may the
    agent. ``cut``: each forwarding batch's values come in two messages (``VALUES_MESSAGE_BYTES``), the
    first without the progress header but marked forwarded."""
    _, agent, _ = offline_kafka_runtime(SPEC, tmp_path)
    later = b"acme.later-hop:0"  # a source the agent does not expect: it joins when heard from
    sent: list[tuple[float, bytes, list[tuple[str, int]], int | None]] = []
    for b in range(60):  # round b: claims b*50 ... b*50+49, one a second
        for p in range(PARTS):
            if cut:  # no progress: its message marked forwarded
                sent.append((b, f"{agent.ctx.topic(ENTRY)}:{p}".encode(), [], None))
            sent.append((b, f"{agent.ctx.topic(ENTRY)}:{p}".encode(), [], (b + 1) * 50 - 1))
        ended = [("abc"[i % 3], i) for i in range(b * 50, (b + 1) * 50)]
        sent.append((b + 0.5 if not 5 <= b < 45 else 45.1 + b / 1000, later, ended, None))
    for offset, (at, key, events, progress) in enumerate(sorted(sent, key=lambda m: m[0])):
        msg = message(agent, 0, events, progress, offset)
        msg.key, msg.timestamp = key, 1_700_000_000.0 + at
        if key != later and progress is None:
            msg.headers = [(H_FORWARDED, b"1")]
        await agent._each([msg])
    assert agent.late == 0  # without the rule below: 1,950, the later hop's claims 250 ... 2,199
    assert agent.windows == 29  # windows of 0 s ... 2,800 s: closed at 110 s ... 2,910 s (< 2,999 s)
