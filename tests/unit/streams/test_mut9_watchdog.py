"""The stall watchdog (streams/kafka/watchdog.py) as pure state under an injected clock: a partition with
work waiting and no progress for longer than `stall_s` is named with its stall and lag; progress, or nothing
to do, resets it; a worker that has not committed for that long with records waiting is named too; the
health callable says the loop is stuck when the measuring beat has not run; only the partitions agents
consume are watched; the next offset to handle is the agent's last handled + 1, else the consumer's
position, and never below the commit frontier's base."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from dana_workflows.streams.kafka import watchdog as watchdog_module
from dana_workflows.streams.kafka.watchdog import StallWatchdog, partition_progress, watched_partitions

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(watchdog_module, "time", SimpleNamespace(monotonic=c.monotonic))
    return c


def tp(topic: str, partition: int) -> Any:
    return TopicPartition(topic, partition)


class Consumer:
    def __init__(self) -> None:
        self.assigned: list[Any] = []
        self.high: dict[Any, int] = {}
        self.positions: dict[Any, int | None] = {}

    def assignment(self) -> list[Any]:
        return self.assigned

    async def highwaters(self, *tps: Any) -> dict[Any, int]:
        return {t: self.high[t] for t in tps if t in self.high}

    async def position(self, t: Any) -> int | None:
        return self.positions.get(t)


def context(changelogs: tuple[str, ...] = ()) -> Any:
    consumer = Consumer()
    return SimpleNamespace(
        app=SimpleNamespace(consumer=consumer, tables=SimpleNamespace(changelog_topics=set(changelogs))),
        agents=SimpleNamespace(stats={}),
        committer=SimpleNamespace(frontier=SimpleNamespace(bases=dict), pending=0, last_commit_at=1000.0),
    )


def check(w: StallWatchdog) -> str | None:
    return asyncio.run(w.check())


def test_tick_is_a_quarter_of_the_stall_within_bounds(clock: Clock) -> None:
    assert StallWatchdog(context(), stall_s=60).tick_s == 5.0
    assert StallWatchdog(context(), stall_s=8).tick_s == 2.0
    assert StallWatchdog(context(), stall_s=0.4).tick_s == 0.2


def test_nothing_assigned_is_healthy(clock: Clock) -> None:
    assert check(StallWatchdog(context())) is None


def test_a_partition_without_progress_for_longer_than_the_stall_is_named(clock: Clock) -> None:
    ctx = context()
    a = tp("dwf.claims.in", 0)
    ctx.app.consumer.assigned = [a]
    ctx.app.consumer.high = {a: 10}
    ctx.app.consumer.positions = {a: 5}
    w = StallWatchdog(ctx, stall_s=60)
    assert check(w) is None  # first seen now
    clock.now += 60
    assert check(w) is None  # exactly the stall: not yet
    clock.now += 1
    assert check(w) == "dwf.claims.in[0] stalled 61s with lag 5"


def test_progress_or_nothing_to_do_resets_the_stall(clock: Clock) -> None:
    ctx = context()
    a = tp("dwf.claims.in", 0)
    ctx.app.consumer.assigned = [a]
    ctx.app.consumer.high = {a: 10}
    ctx.app.consumer.positions = {a: 5}
    w = StallWatchdog(ctx, stall_s=60)
    check(w)
    clock.now += 50
    ctx.app.consumer.positions = {a: 6}  # progress
    assert check(w) is None
    clock.now += 50
    assert check(w) is None  # 50 s since the progress
    ctx.app.consumer.positions = {a: 10}  # caught up: nothing to do
    clock.now += 100
    assert check(w) is None
    ctx.app.consumer.high = {a: 12}  # new work: the stall counts from the last time there was none
    clock.now += 30
    assert check(w) is None
    clock.now += 31
    assert check(w) == "dwf.claims.in[0] stalled 61s with lag 2"


def test_no_commit_with_records_waiting_is_named_and_joined(clock: Clock) -> None:
    ctx = context()
    a, b = tp("dwf.claims.in", 0), tp("dwf.claims.in", 1)
    ctx.app.consumer.assigned = [a, b]
    ctx.app.consumer.high = {a: 10, b: 3}
    ctx.app.consumer.positions = {a: 5, b: 0}
    w = StallWatchdog(ctx, stall_s=60)
    check(w)
    clock.now += 70
    ctx.committer.pending = 4
    assert check(w) == (
        "dwf.claims.in[0] stalled 70s with lag 5; dwf.claims.in[1] stalled 70s with lag 3; "
        "no offset commit for 70s with records waiting"
    )
    ctx.committer.pending = 0  # nothing waiting to be committed: no commit is no problem
    ctx.app.consumer.positions = {a: 10, b: 3}
    assert check(w) is None


def test_the_health_callable_says_the_loop_is_stuck_when_the_beat_stopped(clock: Clock) -> None:
    w = StallWatchdog(context(), stall_s=60)  # tick 5 s: stuck after 60 + 10 s without a beat
    w.reason = None
    assert w() is None and w.healthy
    w.reason = "dwf.claims.in[0] stalled 61s with lag 5"
    assert w() == w.reason and not w.healthy
    clock.now += 70
    assert w() == w.reason
    clock.now += 1
    assert w() == "worker event loop stuck: no watchdog check for 71s"


def test_only_the_partitions_agents_consume_are_watched() -> None:
    ctx = context(changelogs=("dwf-claims-drift-changelog",))
    ctx.app.consumer.assigned = [
        tp("dwf.claims.in", 0),
        tp("dwf-claims-drift-changelog", 0),
        tp("dwf-claims-__assignor-__leader", 0),
        tp("dwf.claims.check-tag", 1),
    ]
    assert [(t.topic, t.partition) for t in watched_partitions(ctx)] == [
        ("dwf.claims.in", 0),
        ("dwf.claims.check-tag", 1),
    ]


def test_the_next_offset_is_the_agents_then_the_position_never_below_the_frontier() -> None:
    ctx = context()
    a, b, c, d = tp("t", 0), tp("t", 1), tp("u", 0), tp("v", 0)
    ctx.app.consumer.high = {a: 100, b: 100, c: 100}  # d: no watermark yet
    ctx.app.consumer.positions = {b: 40, c: None}
    ctx.agents.stats = {"step_t": SimpleNamespace(topic="t", last_offsets={0: 49})}
    ctx.committer.frontier = SimpleNamespace(bases=lambda: {("t", 1): 45})
    got = asyncio.run(partition_progress(ctx, [a, b, c, d]))
    assert [(t.topic, t.partition, hw, nxt) for t, hw, nxt in got] == [
        ("t", 0, 100, 50),  # handled up to 49
        ("t", 1, 100, 45),  # the position 40, but the frontier's base is past it (a transaction marker)
        ("u", 0, 100, 0),  # no position yet
    ]
