"""The step agents' intake (streams/kafka/intake.py, fetch_divert.py): fetched records are queued only
for an open partition, from its own position on and never twice; nothing the client read past is left
behind (a dropped record makes a seek back due); a revocation drops what is queued and voids batches
taken before it; the agent loop handles batches of the current generation only."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from dana_workflows.streams.kafka.agent_loop import AgentRegistry, AgentStats, WorkerState
from dana_workflows.streams.kafka.fetch_divert import (
    DivertingConsumer,
    DivertingTransport,
    FetchThread,
    divert,
    use_intake,
)
from dana_workflows.streams.kafka.frontier import Key
from dana_workflows.streams.kafka.intake import Intake

pytestmark = pytest.mark.unit

K: Key = ("in", 0)
K1: Key = ("in", 1)


def recs(key: Key, *offsets: int) -> list[Any]:
    return [SimpleNamespace(topic=key[0], partition=key[1], offset=o) for o in offsets]


def opened(*keys: Key, start: int = 0, room: int = 1000) -> Intake:
    """An intake whose partitions are open at ``start`` and sought there (ready to queue)."""
    intake = Intake(room=room)
    intake.add_topic("in")
    assert intake.open({k: start for k in keys}, intake.generation)
    for key, offset in intake.seeks_due().items():
        intake.sought(key, offset)
    return intake


async def offsets_taken(intake: Intake, max_batch: int = 100) -> list[tuple[Key, int]]:
    batch, _ = await intake.take("in", max_batch)
    return [((r.topic, r.partition), r.offset) for r in batch]


# -- queueing ------------------------------------------------------------------------------------------------
def test_a_closed_partition_queues_nothing() -> None:
    intake = Intake()
    intake.add_topic("in")
    intake.offer(K, recs(K, 0, 1))
    assert intake.queued() == 0 and intake.dropped == 2
    assert intake.seeks_due() == {}  # nothing to seek before it opens: opening seeks


def test_an_opened_partition_waits_for_its_seek() -> None:
    intake = Intake()
    intake.add_topic("in")
    assert intake.open({K: 7}, intake.generation)
    assert intake.seeks_due() == {K: 7}
    intake.offer(K, recs(K, 3, 4))  # read before the seek: from wherever the client was
    assert intake.queued() == 0
    intake.sought(K, 7)
    assert intake.seeks_due() == {}
    intake.offer(K, recs(K, 7, 8))
    assert intake.queued() == 2


async def test_records_below_the_position_are_skipped_and_the_rest_queued_in_order() -> None:
    intake = opened(K, start=10)
    intake.offer(K, recs(K, 10, 11, 12))
    intake.offer(K, recs(K, 11, 12, 13, 14))  # a seek back re-read 11 and 12
    assert await offsets_taken(intake) == [(K, 10), (K, 11), (K, 12), (K, 13), (K, 14)]


def test_records_before_the_start_are_not_queued() -> None:
    intake = opened(K, start=5)
    intake.offer(K, recs(K, 3, 4))
    assert intake.queued() == 0
    intake.offer(K, recs(K, 4, 5))
    assert intake.queued() == 1


async def test_offsets_that_hold_no_record_do_not_stop_the_queue() -> None:
    intake = opened(K, start=0)
    intake.offer(K, recs(K, 0, 2, 5))  # 1, 3, 4: transaction markers under exactly-once
    intake.offer(K, recs(K, 5, 6))
    assert [o for _, o in await offsets_taken(intake)] == [0, 2, 5, 6]


def test_records_the_loop_could_not_offer_make_a_seek_back_due() -> None:
    intake = opened(K, start=0)
    intake.offer(K, recs(K, 0, 1, 2))
    intake.discarded(K)  # e.g. fetched while the flow was stopped: the client is past them
    assert intake.seeks_due() == {K: 3}
    intake.offer(K, recs(K, 3, 4))  # not queued until the client was sought back
    assert intake.queued() == 3
    intake.sought(K, 5)  # a seek to another offset does not count
    assert intake.seeks_due() == {K: 3}
    intake.sought(K, 3)
    intake.offer(K, recs(K, 3, 4))
    assert intake.queued() == 5


def test_topics_not_diverted_are_not_opened() -> None:
    intake = Intake()
    intake.add_topic("in")
    assert intake.diverts("in") and not intake.diverts("audit")
    intake.open({("audit", 0): 0, K: 0}, intake.generation)
    assert intake.seeks_due() == {K: 0}
    intake.discarded(("audit", 0))  # never opened: nothing due
    assert intake.seeks_due() == {K: 0}


# -- revocation ----------------------------------------------------------------------------------------------
async def test_close_drops_the_queue_and_bumps_the_generation() -> None:
    intake = opened(K, start=0)
    intake.offer(K, recs(K, 0, 1))
    _, generation = await intake.take("in", 1)
    assert intake.close() == 1
    assert intake.generation == generation + 1 and intake.queued() == 0
    intake.offer(K, recs(K, 2))  # closed now
    assert intake.queued() == 0


def test_an_open_for_an_older_generation_opens_nothing() -> None:
    intake = Intake()
    intake.add_topic("in")
    generation = intake.generation
    intake.close()
    assert not intake.open({K: 0}, generation)
    assert intake.seeks_due() == {}


async def test_reopen_opens_our_assigned_partitions_at_their_start() -> None:
    intake = Intake()
    intake.add_topic("in")
    asked: list[list[Key]] = []

    async def starts(keys: list[Key]) -> dict[Key, int]:
        asked.append(keys)
        return {k: 40 + k[1] for k in keys}

    assert await intake.reopen([K1, ("audit", 0), K], starts, intake.generation)
    assert asked == [[K, K1]]
    assert intake.seeks_due() == {K: 40, K1: 41}


async def test_reopen_retries_a_failed_lookup_and_gives_up_at_a_close(monkeypatch: Any) -> None:
    monkeypatch.setattr("dana_workflows.streams.kafka.intake.START_RETRY_S", 0)
    intake = Intake()
    intake.add_topic("in")
    calls = 0

    async def flaky(keys: list[Key]) -> dict[Key, int]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("busy")
        return dict.fromkeys(keys, 0)

    assert await intake.reopen([K], flaky, intake.generation) and calls == 3

    async def revoked_meanwhile(keys: list[Key]) -> dict[Key, int]:
        intake.close()
        raise ConnectionError("rebalancing")

    assert not await intake.reopen([K], revoked_meanwhile, intake.generation)
    assert intake.seeks_due() == {}
    assert not await intake.reopen([("audit", 0)], flaky, intake.generation)  # nothing of ours


# -- taking --------------------------------------------------------------------------------------------------
async def test_take_waits_for_records_and_caps_the_batch() -> None:
    intake = opened(K, start=0)
    waiting = asyncio.ensure_future(intake.take("in", 2))
    await asyncio.sleep(0)
    assert not waiting.done()
    intake.offer(K, recs(K, 0, 1, 2))
    batch, _ = await asyncio.wait_for(waiting, 1)
    assert [r.offset for r in batch] == [0, 1]
    assert [o for _, o in await offsets_taken(intake)] == [2]


async def test_a_batch_shares_itself_between_partitions_in_order() -> None:
    intake = opened(K, K1, start=0)
    intake.offer(K, recs(K, 0, 1, 2, 3))
    intake.offer(K1, recs(K1, 0, 1, 2, 3))
    first = await offsets_taken(intake, 4)
    assert sorted(first) == [(K, 0), (K, 1), (K1, 0), (K1, 1)]
    second = await offsets_taken(intake, 4)
    assert sorted(second) == [(K, 2), (K, 3), (K1, 2), (K1, 3)]


async def test_each_topics_agent_takes_only_that_topics_records() -> None:
    mid: Key = ("mid", 0)  # the per-step layout: a step's own topic, its own agent
    intake = Intake()
    intake.add_topic("in")
    intake.add_topic("mid")
    intake.open({K: 0, mid: 0}, intake.generation)
    for key, offset in intake.seeks_due().items():
        intake.sought(key, offset)
    intake.offer(K, recs(K, 0, 1))
    intake.offer(mid, recs(mid, 0))
    batch, _ = await intake.take("mid", 10)
    assert [(r.topic, r.offset) for r in batch] == [("mid", 0)]
    waiting = asyncio.ensure_future(intake.take("mid", 10))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # the entry topic's records are not the middle step's
    assert [o for _, o in await offsets_taken(intake)] == [0, 1]
    waiting.cancel()


async def test_the_queue_has_room_again_once_taken() -> None:
    intake = opened(K, start=0, room=3)
    intake.offer(K, recs(K, 0, 1))
    assert not intake.full()
    intake.offer(K, recs(K, 2))
    assert intake.full()
    waiting = asyncio.ensure_future(intake.wait_room(5))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    await intake.take("in", 1)
    await asyncio.wait_for(waiting, 1)
    assert not intake.full()
    await intake.wait_room(0)  # a bounded wait returns when time is up, too
    intake.offer(K, recs(K, 3))
    assert intake.full()
    await intake.wait_room(0)
    assert intake.close() == 3 and not intake.full()


# -- the agent loop ------------------------------------------------------------------------------------------
async def test_the_agent_handles_current_batches_and_leaves_one_taken_before_a_close() -> None:
    async def crash(exc: BaseException) -> None:
        return None

    registry = AgentRegistry(WorkerState(), crash)
    handled: list[list[int]] = []
    intake = opened(K, start=0)

    async def handle(batch: list[Any]) -> None:
        handled.append([r.offset for r in batch])

    stats = AgentStats("in")
    lock = registry.add("in", handle)
    loop = asyncio.ensure_future(
        registry.consume_intake(intake, stats, lock, handle, drop=lambda r: r.offset == 1, max_batch=10)
    )
    intake.offer(K, recs(K, 0, 1, 2))
    for _ in range(50):
        await asyncio.sleep(0)
        if handled:
            break
    assert handled == [[0, 2]]  # the fault-injected record is never handed over
    assert stats.events == 3 and stats.last_offsets == {0: 2}
    async with lock:  # the agent takes the next batch while the lock is held elsewhere...
        intake.offer(K, recs(K, 3, 4))
        for _ in range(5):
            await asyncio.sleep(0)
        assert intake.queued() == 0
        intake.close()  # ...and the partitions are revoked before it may handle it
    for _ in range(5):
        await asyncio.sleep(0)
    loop.cancel()
    assert handled == [[0, 2]]  # left to be fetched again, by this worker or the next owner
    assert stats.last_offsets == {0: 2}


async def test_a_batch_of_only_dropped_records_hands_nothing_over() -> None:
    async def crash(exc: BaseException) -> None:
        return None

    registry = AgentRegistry(WorkerState(), crash)
    handled: list[list[int]] = []

    async def handle(batch: list[Any]) -> None:
        handled.append([r.offset for r in batch])

    intake = opened(K, start=0)
    stats = AgentStats("in")
    lock = registry.add("in", handle)
    loop = asyncio.ensure_future(
        registry.consume_intake(intake, stats, lock, handle, drop=lambda r: r.offset < 2, max_batch=10)
    )
    intake.offer(K, recs(K, 0, 1))
    for _ in range(10):
        await asyncio.sleep(0)
    assert handled == [] and stats.events == 2 and stats.last_offsets == {}
    intake.offer(K, recs(K, 2))
    for _ in range(50):
        await asyncio.sleep(0)
        if handled:
            break
    loop.cancel()
    assert handled == [[2]]


# -- the consumer and its hooks ------------------------------------------------------------------------------
def test_stop_flow_closes_the_intake_and_due_seeks_go_to_the_client() -> None:
    consumer: Any = object.__new__(DivertingConsumer)
    consumer.flow_active = True
    consumer.can_resume_flow = asyncio.Event()
    consumer.suspend_flow = asyncio.Event()
    intake = opened(K, K1, start=0)
    intake.offer(K, recs(K, 0, 1))
    intake.discarded(K)
    intake.discarded(K1)
    sought: list[tuple[TP, int]] = []

    def seek(tp: TP, offset: int) -> None:
        if tp.partition == 1:
            raise RuntimeError("not assigned")
        sought.append((tp, offset))

    consumer.intake = intake
    consumer._thread = SimpleNamespace(seek=seek)
    consumer.log = SimpleNamespace(info=lambda *a: None)
    consumer._seek_due()
    assert sought == [(TP("in", 0), 2)]
    assert intake.seeks_due() == {K1: 0}  # the failed seek stays due
    generation = intake.generation
    consumer.stop_flow()
    assert not consumer.flow_active and consumer.suspend_flow.is_set()
    assert intake.generation == generation + 1 and intake.queued() == 0


async def test_use_intake_builds_a_diverting_consumer_and_reopens_after_recovery() -> None:
    app = faust.App("dwf-intake-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    intake = Intake()
    intake.add_topic("in")
    ended: list[bool] = []
    app.on_rebalance_end = lambda: ended.append(True)  # faust's own (sensors, spans) is not the point

    async def starts(keys: list[Key]) -> dict[Key, int]:
        return dict.fromkeys(keys, 9)

    use_intake(app, intake, starts)
    assert isinstance(app.transport, DivertingTransport)
    consumer = app.consumer
    assert isinstance(consumer, DivertingConsumer) and consumer.intake is intake
    assert isinstance(consumer._thread, FetchThread)  # keeps where each fetch left the client
    consumer.assignment = lambda: {TP("in", 0), TP("audit", 0)}
    app.on_rebalance_end()
    assert ended == [True]
    for _ in range(20):
        await asyncio.sleep(0)
        if intake.seeks_due():
            break
    assert intake.seeks_due() == {K: 9}


@pytest.mark.parametrize("intake_on", [True, False], ids=["intake-on", "intake-off"])
def test_the_runtime_fetches_through_the_diverting_consumer_with_the_intake_on_or_off(
    tmp_path: Any, intake_on: bool
) -> None:
    # the fetch fix (a copy of the active set, the seek back of what is not delivered) holds in both modes;
    # with the intake off the consumer diverts nothing: faust delivers every record
    from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
    from dana_workflows.schemas.registry import FileRegistry
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime
    from dana_workflows.streams.topology import Topology
    from dana_workflows.workflow.spec import parse_spec
    from tests.unit.streams.test_mut9_step_agents import SPEC

    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None, intake=intake_on)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)  # builds, never connects
    consumer = runtime.app.consumer
    assert isinstance(runtime.app.transport, DivertingTransport) and isinstance(consumer, DivertingConsumer)
    assert (runtime.intake is not None) is intake_on
    entry_topic = runtime.context.topic(ENTRY)
    assert consumer.intake.diverts(entry_topic) is intake_on


# -- faust's current event for table writes ------------------------------------------------------------------
def test_with_a_table_written_by_steps_each_record_runs_as_fausts_current_event(tmp_path: Any) -> None:
    from faust.streams import current_event

    from tests.unit.streams.test_mut9_step_agents import handle, offline, record

    runtime, _ = offline(tmp_path)
    steps = runtime.steps
    seen: list[tuple[int, int] | None] = []
    hop = steps._hop

    async def spy(*args: Any) -> Any:
        event = current_event()
        seen.append(None if event is None else (event.message.partition, event.message.offset))
        return await hop(*args)

    steps._hop = spy
    msgs = [
        record(runtime, {"amount": 5.0, "currency": "USD"}, offset=3, partition=1),
        record(runtime, {"amount": 7.0, "currency": "EUR"}, offset=4, partition=0),
    ]
    handle(runtime, msgs)
    assert seen == [None, None]  # no llm step: no table is written, no event is made
    steps.tables = True  # what an llm step's reply cache sets
    seen.clear()
    handle(runtime, msgs)
    assert seen == [(1, 3), (0, 4)]  # the changelog partition of each write is its own record's
    assert current_event() is None  # and none is left behind after a record


# -- the intake's bookkeeping across rebalances (review findings) -------------------------------------------
async def test_a_reopen_scheduled_before_a_close_opens_nothing() -> None:
    intake = Intake()
    intake.add_topic("in")
    generation = intake.generation  # what recovery's end reads when it schedules the reopen

    async def starts(keys: list[Key]) -> dict[Key, int]:
        return dict.fromkeys(keys, 0)

    pending = asyncio.ensure_future(intake.reopen([K], starts, generation))
    intake.close()  # a revocation before the reopen's task first runs
    assert not await pending
    assert intake.seeks_due() == {}


async def test_a_second_open_of_one_assignment_keeps_what_is_queued() -> None:
    intake = opened(K, start=0)
    intake.offer(K, recs(K, 0, 1, 2))
    assert intake.open({K: 0}, intake.generation)  # recovery ended twice for one assignment
    assert intake.queued() == 3 and intake.seeks_due() == {}
    assert await offsets_taken(intake) == [(K, 0), (K, 1), (K, 2)]
    intake.offer(K, recs(K, 2, 3))  # the position survived: 2 was queued already
    assert await offsets_taken(intake) == [(K, 3)]


async def test_a_take_whose_counts_drifted_recounts_instead_of_failing() -> None:
    intake = opened(K, start=0)
    intake._sizes["in"] += 2  # a bookkeeping bug: counted, nothing queued
    intake._size += 2
    taking = asyncio.ensure_future(offsets_taken(intake))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not taking.done()  # recounted to nothing and waits (it divided by zero before)
    assert intake.queued() == 0
    intake.offer(K, recs(K, 0))
    assert await asyncio.wait_for(taking, 5) == [(K, 0)]


async def test_every_revocation_closes_the_intake(monkeypatch: pytest.MonkeyPatch) -> None:
    revoked_by_faust: list[Any] = []

    async def faust_revoked(self: Any, revoked: Any) -> None:
        revoked_by_faust.append(revoked)

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_revoked", faust_revoked)
    consumer: Any = object.__new__(DivertingConsumer)
    consumer.intake = opened(K, start=0)
    consumer.intake.offer(K, recs(K, 0))
    generation = consumer.intake.generation
    await consumer.on_partitions_revoked({TP("in", 0)})
    assert consumer.intake.generation == generation + 1 and consumer.intake.queued() == 0
    assert revoked_by_faust == [{TP("in", 0)}]


# -- the fetch: diverted below faust's loop, which stays faust's ---------------------------------------------
def test_a_fetch_with_the_flow_active_queues_the_diverted_lists_and_returns_the_rest() -> None:
    intake = opened(K, K1, start=0)
    fetched = {TP("in", 0): recs(K, 0, 1), TP("in", 1): [], TP("audit", 0): recs(("audit", 0), 5)}
    rest, back = divert(intake, fetched, flow_active=True, fetched_in=intake.generation)
    assert list(rest) == [TP("audit", 0)] and [r.offset for r in rest[TP("audit", 0)]] == [5]
    assert intake.queued() == 2 and intake.seeks_due() == {} and back == {}


def test_a_fetch_after_the_flow_stopped_delivers_nothing_and_every_partition_goes_back() -> None:
    intake = opened(K, start=0)
    changelog = ("t-drift-changelog", 0)
    fetched = {
        TP("in", 0): recs(K, 0, 1),
        TP("audit", 0): recs(("audit", 0), 5),
        TP(*changelog): recs(changelog, 40, 41),
        TP("audit", 1): [],
    }
    rest, back = divert(intake, fetched, flow_active=False, fetched_in=intake.generation)
    assert rest == {} and intake.queued() == 0  # faust's getmany delivers none of it anyway
    assert intake.seeks_due() == {K: 0}  # the client read past the position: a seek back is due
    # faust's getmany seeks back only partitions with a committed offset above 0 (aiokafka's
    # seek_to_committed), never a changelog: every other partition goes back to its first fetched offset
    assert back == {TP("audit", 0): 5, TP(*changelog): 40}


def diverting_consumer(intake: Intake, events: list[str]) -> Any:
    """A DivertingConsumer without faust's start-up: its flags, a client seek that records, an app whose
    fetcher is running."""
    consumer: Any = object.__new__(DivertingConsumer)
    consumer.intake = intake
    consumer.flow_active = True
    consumer._stopped = asyncio.Event()
    consumer._crashed = asyncio.Event()
    consumer._thread = SimpleNamespace(seek=lambda tp, offset: events.append(f"seek {tp.partition}@{offset}"))
    consumer.log = SimpleNamespace(info=lambda *a: None)
    consumer.app = SimpleNamespace(_fetcher=SimpleNamespace(_stopped=asyncio.Event()))
    return consumer


async def test_the_consumer_fetch_waits_for_room_seeks_then_diverts(monkeypatch: pytest.MonkeyPatch) -> None:
    intake = opened(K, start=0, room=2)
    intake.offer(K, recs(K, 0, 1))  # full
    assert intake.open({K1: 5}, intake.generation)  # K1 opened: its seek is due before the next fetch
    events: list[str] = []

    async def faust_fetch(self: Any, timeout: float) -> tuple[Any, Any]:
        events.append("fetch")
        return await self._getmany({TP("in", 0), TP("audit", 0)}, timeout), {TP("in", 0)}

    async def client_fetch(self: Any, active: set[TP], timeout: float) -> Any:
        return {TP("in", 0): recs(K, 2), TP("audit", 0): recs(("audit", 0), 9)}

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_fetch)
    monkeypatch.setattr(faust_aiokafka.Consumer, "_getmany", client_fetch)
    consumer = diverting_consumer(intake, events)
    fetch = asyncio.ensure_future(consumer._wait_next_records(1.0))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not fetch.done() and events == []  # no fetch while the queue is full
    await offsets_taken(intake)  # the agent takes: room again
    rest, active = await asyncio.wait_for(fetch, 5)
    # faust delivers by the set the fetch asked for (its own set may have changed meanwhile)
    assert events == ["seek 1@5", "fetch"] and active == {TP("in", 0), TP("audit", 0)}
    assert list(rest) == [TP("audit", 0)]
    assert await offsets_taken(intake) == [(K, 2)]


async def test_an_empty_fetch_is_returned_as_faust_gave_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async def faust_fetch(self: Any, timeout: float) -> tuple[Any, Any]:
        return None, None

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_fetch)
    consumer: Any = object.__new__(DivertingConsumer)
    consumer.intake = opened(K)
    consumer._stopped = asyncio.Event()
    consumer._crashed = asyncio.Event()
    consumer.flow_active = True
    assert await consumer._wait_next_records(1.0) == (None, None)


def test_the_intake_is_on_by_default_and_the_setting_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from dana_workflows.core.settings import Settings
    from dana_workflows.streams.kafka.options import KafkaOptions

    monkeypatch.delenv("DWF_KAFKA_INTAKE", raising=False)
    assert KafkaOptions.from_settings(Settings()).intake is True
    monkeypatch.setenv("DWF_KAFKA_INTAKE", "false")
    assert KafkaOptions.from_settings(Settings()).intake is False


# -- the fetch loop's per-fetch checks and its stop ----------------------------------------------------------
def test_a_fetch_that_spans_a_revocation_hands_nothing_over() -> None:
    intake = opened(K, K1, start=0)
    fetched_in = intake.generation
    intake.close()  # partitions revoked while the fetch was in flight ...
    assert intake.open({K: 0, K1: 0}, intake.generation)  # ... and assigned again
    for key, offset in intake.seeks_due().items():
        intake.sought(key, offset)  # even sought: what the fetch brought is of the older assignment
    fetched = {TP("in", 0): recs(K, 0, 1), TP("audit", 0): recs(("audit", 0), 5)}
    rest, back = divert(intake, fetched, flow_active=True, fetched_in=fetched_in)
    assert intake.queued() == 0 and intake.dropped == 2
    assert intake.seeks_due() == {K: 0}  # read again from the position, in this generation
    # not diverted: not delivered either (read before the rebalance's seeks), the client goes back for it
    assert rest == {} and back == {TP("audit", 0): 5}
    # a fetch of the current generation is queued
    assert divert(intake, {TP("in", 1): recs(K1, 0)}, True, intake.generation) == ({}, {})
    assert intake.queued() == 1


def test_records_of_a_partition_not_open_are_not_queued() -> None:
    intake = opened(K, start=0)  # K1 is not ours (revoked, or assigned to another worker)
    rest, back = divert(
        intake, {TP("in", 0): recs(K, 0), TP("in", 1): recs(K1, 0, 1)}, True, intake.generation
    )
    assert rest == {} and back == {}
    assert intake.queued() == 1 and intake.dropped == 2
    assert intake.seeks_due() == {}


async def test_the_consumer_fetch_drops_what_a_revocation_during_the_fetch_made_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    intake = opened(K, start=0)
    events: list[str] = []

    async def faust_fetch(self: Any, timeout: float) -> tuple[Any, Any]:
        events.append("fetch")
        intake.close()  # a rebalance while the fetch waited in the consumer thread
        assert intake.open({K: 0}, intake.generation)
        intake.sought(K, 0)
        return {TP("in", 0): recs(K, 0, 1)}, {TP("in", 0)}

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_fetch)
    consumer = diverting_consumer(intake, events)
    rest, _ = await consumer._wait_next_records(1.0)
    assert intake.queued() == 0 and rest == {}
    assert intake.seeks_due() == {K: 0}


async def fetch_waiting_for_room(monkeypatch: pytest.MonkeyPatch) -> tuple[Intake, Any, list[str], Any]:
    """A full intake (its agent takes nothing: it drains, or is stuck) and the consumer's fetch waiting for
    room; faust's own fetch (recorded in the events) answers nothing."""
    intake = opened(K, start=0, room=2)
    intake.offer(K, recs(K, 0, 1))
    events: list[str] = []

    async def faust_fetch(self: Any, timeout: float) -> tuple[Any, Any]:
        events.append("fetch")
        return {}, set()

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_fetch)
    consumer = diverting_consumer(intake, events)
    fetch = asyncio.ensure_future(consumer._wait_next_records(1.0))
    await asyncio.sleep(0.05)
    assert not fetch.done()
    return intake, consumer, events, fetch


@pytest.mark.parametrize("stopping", ["consumer", "fetcher"])
async def test_a_stop_while_the_fetch_waits_for_room_ends_the_wait(
    monkeypatch: pytest.MonkeyPatch, stopping: str
) -> None:
    _, consumer, events, fetch = await fetch_waiting_for_room(monkeypatch)
    (consumer._stopped if stopping == "consumer" else consumer.app._fetcher._stopped).set()
    # faust's fetch when stopping returns what it has; no cancellation needed
    assert await asyncio.wait_for(fetch, 5) == ({}, set())
    assert events == ["fetch"]


async def test_a_fetch_cancelled_as_room_comes_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """faust stops the fetcher at a rebalance by cancelling its task right after ``stop_flow`` closed the
    intake (which makes room): the cancel must end the fetch, not be swallowed by the room wait (Python
    3.11's ``wait_for`` returns the inner result when both happen in one loop turn). Swallowed, the fetch
    went on into faust's wait for the flow to resume, and faust waited for the cancelled task without end."""
    intake, _, events, fetch = await fetch_waiting_for_room(monkeypatch)
    intake.close()  # room
    fetch.cancel()  # in the same turn
    with pytest.raises(asyncio.CancelledError):
        await fetch
    assert events == []
