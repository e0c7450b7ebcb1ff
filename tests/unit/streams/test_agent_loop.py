"""The agents' loop (streams/kafka/agent_loop.py): records waiting in the channel are handled together,
a batch is cut when the channel is empty or full, a dropped record is never handed over, and a failing
handling stops the worker (nothing more is handled, the state says why)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka.agent_loop import AgentRegistry, AgentStats, WorkerState
from dana_workflows.streams.kafka.options import KafkaOptions

pytestmark = pytest.mark.unit


class Channel:
    """faust's agent channel as the loop sees it: records arrive in waves; ``queue.empty()`` tells
    whether more of the current wave wait."""

    def __init__(self, waves: list[list[int]]) -> None:
        self.waves = deque(deque(w) for w in waves)
        self.queue = self

    def empty(self) -> bool:
        return not self.waves or not self.waves[0]

    async def events(self) -> AsyncIterator[Any]:
        while self.waves:
            wave = self.waves[0]
            if not wave:  # the wave is handled; the next one arrives later
                self.waves.popleft()
                await asyncio.sleep(0)
                continue
            yield SimpleNamespace(message=SimpleNamespace(topic="t", partition=0, offset=wave.popleft()))


def stream_of(waves: list[list[int]]) -> Any:
    channel = Channel(waves)
    return SimpleNamespace(channel=channel, events=channel.events)


async def run(
    waves: list[list[int]], max_batch: int, drop: frozenset[int] = frozenset()
) -> tuple[list[list[int]], AgentStats]:
    async def crash(exc: BaseException) -> None:
        return None

    registry = AgentRegistry(WorkerState(), crash)
    batches: list[list[int]] = []

    async def handle(batch: list[Any]) -> None:
        batches.append([m.offset for m in batch])

    stats = AgentStats("t")
    lock = registry.add("t", handle)
    await registry.consume(
        stream_of(waves), stats, lock, handle, drop=lambda m: m.offset in drop, max_batch=max_batch
    )
    return batches, stats


async def test_waiting_records_are_one_batch_and_a_lone_record_is_not_held_back() -> None:
    batches, stats = await run([[0, 1, 2, 3], [4], [5, 6]], max_batch=500)
    assert batches == [[0, 1, 2, 3], [4], [5, 6]]
    assert stats.events == 7 and stats.last_offsets == {0: 6}


async def test_a_full_batch_is_cut_and_one_at_a_time_is_the_old_behaviour() -> None:
    batches, _ = await run([[0, 1, 2, 3, 4]], max_batch=2)
    assert batches == [[0, 1], [2, 3], [4]]
    batches, _ = await run([[0, 1, 2]], max_batch=1)
    assert batches == [[0], [1], [2]]


async def test_a_dropped_record_is_taken_but_never_handed_over() -> None:
    batches, stats = await run([[0, 1, 2], [3]], max_batch=500, drop=frozenset({2, 3}))
    assert batches == [[0, 1]]
    assert stats.events == 4  # taken: the committer's idle check counts it


async def test_a_failing_handling_stops_the_worker_and_nothing_more_is_handled() -> None:
    crashed: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    state = WorkerState()
    registry = AgentRegistry(state, crash)
    seen: list[int] = []

    async def handle(batch: list[Any]) -> None:
        seen.extend(m.offset for m in batch)
        raise RuntimeError("a bug")

    lock = registry.add("t", handle)
    await registry.consume(stream_of([[0, 1], [2]]), AgentStats("t"), lock, handle, drop=lambda m: False)
    assert seen == [0, 1]  # the second batch is not handled once the worker broke
    assert isinstance(state.crashed, RuntimeError) and crashed == [state.crashed]
    assert state.idle()


def test_an_agent_takes_at_least_one_record() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        KafkaOptions(bootstrap="127.0.0.1:9", max_batch=0)


async def test_records_taken_before_a_rebalance_are_left_to_be_delivered_again() -> None:
    """A revocation (commit.py counts it in the state) while a batch is being taken: the commit it made
    did not include those records, so they are not handled here; later records are."""

    async def crash(exc: BaseException) -> None:
        return None

    state = WorkerState()
    registry = AgentRegistry(state, crash)
    handled: list[list[int]] = []

    async def handle(batch: list[Any]) -> None:
        handled.append([m.offset for m in batch])

    def drop(msg: Any) -> bool:
        if msg.offset == 1:
            state.rebalances += 1  # partitions revoked while offsets 0 and 1 were being taken
        return False

    lock = registry.add("t", handle)
    await registry.consume(stream_of([[0, 1], [2]]), AgentStats("t"), lock, handle, drop=drop)
    assert handled == [[2]]
