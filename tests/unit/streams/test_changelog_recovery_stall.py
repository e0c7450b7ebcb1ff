"""The drift changelog's recovery stall after a rebalance (docs/kafka-runtime.md, "The drift changelog's
recovery stall"): a fetch in flight across a revocation must not take a table changelog's records from
the offset recovery just sought it to and leave them undelivered.

faust's own fetch path runs here for real (``Consumer._wait_next_records``, ``getmany`` with its
``perform_seek``, ``pause_partitions``, ``stop_flow``), under the runtime's ``DivertingConsumer``; only the
consumer thread is a fake: a broker log per partition with the client's position, whose ``getmany``
drains as aiokafka's ``Fetcher.fetched_records`` does (an empty partition set filters nothing,
aiokafka/consumer/fetcher.py:1221) and whose ``seek_to_committed`` seeks only partitions with a committed
offset above 0 (aiokafka/consumer/consumer.py:901). What the rebalance does while the fetch waits in the
thread is faust's sequence: ``stop_flow`` and ``pause_partitions(assignment)`` at the revocation
(faust/app/base.py:1811-1814), then recovery's seek of the changelog (faust/tables/recovery.py:435)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.utils import DefaultSchedulingStrategy
from faust.types import TP

from dana_workflows.streams.kafka.fetch_divert import (
    DivertingConsumer,
    FetchThread,
    position_of,
    seek_back_unmoved,
)
from dana_workflows.streams.kafka.intake import Intake

pytestmark = pytest.mark.unit

IN = TP("p.claims-triage.in", 0)  # a step agent's topic: diverted to the intake
AUDIT = TP("p.audit", 0)  # faust delivers it (committed offsets)
CHANGELOG = TP("p-claims-triage-drift-changelog", 0)  # a table's changelog: never committed
RECOVERY_START = 40  # where recovery seeks the changelog (the table's persisted offset + 1)


class FakeClientThread:
    """faust's consumer thread over a fake broker: each partition's log end and the client's position (an
    aiokafka partition state per assigned partition, read by fetch_divert's ``position_of``). ``meanwhile``
    runs while a fetch waits (the rebalance), then the fetch drains what it may; ``after_take`` runs once it
    took them, before the main loop gets the answer (a seek in the consumer thread in between)."""

    def __init__(self, ends: dict[TP, int], positions: dict[TP, int], committed: dict[TP, int]) -> None:
        self.ends = ends
        self.states = {
            tp: SimpleNamespace(position=p, has_valid_position=True) for tp, p in positions.items()
        }
        self.committed = committed
        self.asked: list[set[TP] | None] = []
        self.meanwhile: Callable[[], Awaitable[None]] | None = None
        self.after_take: Callable[[], None] | None = None
        self.fetched_to: dict[TP, Any] = {}
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=self))

    @property
    def positions(self) -> dict[TP, int]:
        return {tp: state.position for tp, state in self.states.items()}

    def state_value(self, tp: TP) -> Any:
        return self.states.get(tp)

    def assignment(self) -> set[TP]:
        return set(self.states)

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> dict[TP, list[Any]]:
        self.asked.append(active_partitions)
        if self.meanwhile is not None:
            await self.meanwhile()
        drained: dict[TP, list[Any]] = {}
        for tp, position in self.positions.items():
            if active_partitions and tp not in active_partitions:  # aiokafka's filter: empty means all
                continue
            if position < self.ends[tp]:
                drained[tp] = [
                    SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o)
                    for o in range(position, self.ends[tp])
                ]
                self.states[tp].position = self.ends[tp]
        self.fetched_to = {tp: position_of(self, tp) for tp in drained}  # as FetchThread._fetch_records
        if self.after_take is not None:
            self.after_take()
        return drained

    def seek(self, tp: TP, offset: int) -> None:
        self.states[tp].position = offset

    async def seek_back(self, offsets: dict[TP, int]) -> dict[TP, str]:
        return seek_back_unmoved(self, offsets, self.fetched_to)

    async def seek_to_committed(self) -> dict[TP, int | None]:
        for tp in self.states:
            offset = self.committed.get(tp)
            if offset and offset > 0:
                self.states[tp].position = offset
        return {tp: self.committed.get(tp) for tp in self.states}


def consumer_over(client: Any, active: set[TP], step: TP, step_start: int) -> Any:
    """A DivertingConsumer with faust's fetch state and no start-up over ``client`` (faust's consumer
    thread): flow active, ``active`` its live set of active partitions, the intake diverting ``step``'s
    topic (the partition open and sought at ``step_start``)."""
    consumer: Any = object.__new__(DivertingConsumer)
    intake = Intake()
    intake.add_topic(step.topic)
    assert intake.open({(step.topic, step.partition): step_start}, intake.generation)
    intake.sought((step.topic, step.partition), step_start)
    consumer.intake = intake
    consumer._thread = client
    consumer.flow_active = True
    consumer.can_resume_flow = asyncio.Event()
    consumer.can_resume_flow.set()
    consumer.suspend_flow = asyncio.Event()
    consumer.not_waiting_next_records = asyncio.Event()
    consumer._stopped = asyncio.Event()
    consumer._crashed = asyncio.Event()
    consumer._active_partitions = active
    consumer._paused_partitions = set()
    consumer._buffered_partitions = set()
    consumer._read_offset = defaultdict(lambda: None)
    consumer._committed_offset = defaultdict(lambda: None)
    consumer.scheduler = DefaultSchedulingStrategy()
    consumer._to_message = lambda tp, record: record
    consumer.highwater = lambda tp: None  # only passed to the monitor
    consumer.log = SimpleNamespace(info=lambda *a: None, dev=lambda *a: None, warning=lambda *a: None)
    consumer.app = SimpleNamespace(
        client_only=False,
        consumer_generation_id=1,
        monitor=SimpleNamespace(track_tp_end_offset=lambda tp, offset: None),
        _fetcher=SimpleNamespace(_stopped=asyncio.Event()),
    )
    return consumer


def revocation_then_recovery_seek(
    consumer: Any, client: Any, changelog: TP = CHANGELOG, recovery_start: int = RECOVERY_START
) -> Callable[[], Awaitable[None]]:
    """faust's steps while the fetch waits in the thread: the revocation stops the flow and pauses the
    assignment (emptying the live set in place), the new assignment keeps the same partitions, and
    recovery seeks the changelog to where the table needs it."""

    async def meanwhile() -> None:
        consumer.stop_flow()
        consumer.pause_partitions(client.assignment())
        consumer.app.consumer_generation_id += 1
        client.seek(changelog, recovery_start)  # recovery's _seek_offsets
        await asyncio.sleep(0)

    return meanwhile


async def fetch_through_fausts_getmany(consumer: Any) -> list[tuple[TP, int]]:
    return [(tp, record.offset) async for tp, record in consumer.getmany(1.0)]


def worker_a(
    active: set[TP], *, in_end: int = 150, audit_end: int = 8, changelog_at: int = 45
) -> tuple[FakeClientThread, Any]:
    """Worker a's client and consumer: the step topic read to 100 and audit to 5 (both committed there),
    the changelog's position ``changelog_at`` (its log ends at 45), ``active`` faust's live set."""
    client = FakeClientThread(
        ends={IN: in_end, AUDIT: audit_end, CHANGELOG: 45},
        positions={IN: 100, AUDIT: 5, CHANGELOG: changelog_at},
        committed={IN: 100, AUDIT: 5},
    )
    return client, consumer_over(client, active, IN, 100)


async def test_a_fetch_in_flight_across_a_revocation_leaves_the_changelog_where_recovery_sought_it() -> None:
    # worker a's state when b joins: the inputs and audit are active; the changelog it wrote is paused
    # (faust pauses the active changelog once recovery is done) with records up to 45
    client, consumer = worker_a({IN, AUDIT})
    client.meanwhile = revocation_then_recovery_seek(consumer, client)

    delivered = await fetch_through_fausts_getmany(consumer)

    assert delivered == []  # the flow stopped: faust delivers none of the fetch
    assert client.asked == [{IN, AUDIT}]  # a copy: the revocation did not turn it into "every partition"
    # recovery reads the changelog from where it sought it; the rest go back where faust's seek puts them
    assert client.positions == {CHANGELOG: RECOVERY_START, IN: 100, AUDIT: 5}
    assert consumer.intake.queued() == 0


@pytest.mark.parametrize("flow_resumed", [False, True], ids=["flow-stopped", "recovery-resumed-the-flow"])
async def test_a_changelog_read_by_a_fetch_nobody_delivers_is_sought_back(flow_resumed: bool) -> None:
    # a rebalance while recovery reads the changelog (the flow active for it, the live set just it): the
    # fetch in flight asked for the changelog itself, and the next recovery seeks it to 40 again
    client, consumer = worker_a({CHANGELOG}, changelog_at=30)
    rebalance = revocation_then_recovery_seek(consumer, client)

    async def meanwhile() -> None:
        await rebalance()
        if flow_resumed:  # recovery resumes the flow to read the changelog before the fetch answers
            consumer.resume_partitions({CHANGELOG})
            consumer.resume_flow()

    client.meanwhile = meanwhile

    delivered = await fetch_through_fausts_getmany(consumer)

    assert delivered == []  # fetched before the rebalance ended: nobody gets it
    assert client.positions[CHANGELOG] == RECOVERY_START  # sought back: recovery gets 40..44


async def test_a_fetch_that_stays_in_one_generation_is_delivered_by_the_set_it_asked_for() -> None:
    client, consumer = worker_a({IN, AUDIT}, in_end=102, audit_end=7)

    async def meanwhile() -> None:
        consumer.pause_partitions({AUDIT})  # faust pauses a partition while the fetch waits

    client.meanwhile = meanwhile

    delivered = await fetch_through_fausts_getmany(consumer)

    # audit's records were read past: faust delivers them (the fetch's set), not skips them (its live set)
    assert delivered == [(AUDIT, 5), (AUDIT, 6)]
    assert [r.offset for r in (await consumer.intake.take(IN.topic, 10))[0]] == [100, 101]
    assert client.positions == {IN: 102, AUDIT: 7, CHANGELOG: 45}


async def test_a_seek_back_of_a_partition_no_longer_assigned_is_skipped_and_the_rest_still_go_back() -> None:
    client, consumer = worker_a({AUDIT, CHANGELOG}, in_end=100)
    logged: list[tuple[Any, ...]] = []
    consumer.log = SimpleNamespace(info=lambda *a: logged.append(a), dev=lambda *a: None)
    seek = client.seek

    def seek_assigned(tp: TP, offset: int) -> None:
        if tp == AUDIT:
            raise RuntimeError("not assigned")  # aiokafka's IllegalStateError: revoked meanwhile
        seek(tp, offset)

    client.seek = seek_assigned  # type: ignore[method-assign]
    client.meanwhile = revocation_then_recovery_seek(consumer, client)

    assert await fetch_through_fausts_getmany(consumer) == []
    assert client.positions[CHANGELOG] == RECOVERY_START
    assert any("seek back" in str(a[0]) for a in logged)


@pytest.mark.parametrize(
    "recovery_start", [40, 20], ids=["recovery-seeks-past-the-fetch", "recovery-seeks-before-the-fetch"]
)
async def test_a_seek_in_the_consumer_thread_after_the_fetch_took_its_records_is_not_undone(
    recovery_start: int,
) -> None:
    # recovery's seek_wait runs in the consumer thread (a second method-queue worker) and may come after
    # the fetch took the changelog's records (30..44) but before the main loop's turn to seek them back
    client, consumer = worker_a({CHANGELOG}, changelog_at=30)
    rebalance = revocation_then_recovery_seek(consumer, client, recovery_start=30)  # no seek yet: 30 stays

    client.meanwhile = rebalance
    client.after_take = lambda: client.seek(CHANGELOG, recovery_start)  # recovery's seek, in the thread

    assert await fetch_through_fausts_getmany(consumer) == []
    # recovery's seek stands: not undone backwards (30: records read twice) nor forwards (30 past 20..29,
    # records the table would miss)
    assert client.positions[CHANGELOG] == recovery_start


async def test_a_partition_reassigned_since_the_fetch_took_its_records_is_not_sought_back() -> None:
    # the fetch took the changelog's records of the old assignment; by the main loop's turn aiokafka has a
    # new partition state for it (a new assignment, its position from the committed offset or a reset)
    client, consumer = worker_a({CHANGELOG}, changelog_at=30)
    client.meanwhile = revocation_then_recovery_seek(consumer, client, recovery_start=30)

    def reassigned() -> None:
        client.states[CHANGELOG] = SimpleNamespace(position=45, has_valid_position=True)

    client.after_take = reassigned

    assert await fetch_through_fausts_getmany(consumer) == []
    assert client.positions[CHANGELOG] == 45  # where the new assignment put it, though it equals the old end
    assert await client.seek_back({CHANGELOG: 30}) == {CHANGELOG: "left at 45: assigned anew since the fetch"}


async def test_position_of_reads_no_position_for_a_partition_awaiting_its_reset_or_not_assigned() -> None:
    client, _ = worker_a({CHANGELOG})
    client.states[CHANGELOG].has_valid_position = False
    state = client.states[CHANGELOG]
    assert position_of(client, CHANGELOG) == (state, None)
    assert position_of(client, TP("p.other", 0)) is None
    assert seek_back_unmoved(client, {TP("p.other", 0): 3}, {}) == {TP("p.other", 0): "not assigned"}
    client._subscription.subscription.assignment = None
    assert position_of(client, CHANGELOG) is None
    client._subscription.subscription = None
    assert position_of(client, CHANGELOG) is None


async def test_the_consumer_thread_keeps_where_a_fetch_left_the_client_and_seeks_back_only_what_stayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, _ = worker_a({CHANGELOG, AUDIT}, changelog_at=30)

    async def fausts_fetch(self: Any, consumer: Any, active: set[TP], **kwargs: Any) -> dict[TP, list[Any]]:
        return await consumer.getmany(active, 1.0)  # the fake drains as aiokafka's fetched_records

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", fausts_fetch)
    thread: Any = object.__new__(FetchThread)
    thread._consumer = client

    async def in_the_thread(fun: Any, *args: Any) -> Any:  # mode's call_thread awaits the function's result
        return await fun(*args)

    thread.call_thread = in_the_thread

    records = await thread._fetch_records(client, {CHANGELOG, AUDIT}, timeout=1.0, max_records=None)
    assert set(records) == {CHANGELOG, AUDIT}
    assert thread.fetched_to == {CHANGELOG: (client.states[CHANGELOG], 45), AUDIT: (client.states[AUDIT], 8)}
    client.seek(CHANGELOG, RECOVERY_START)  # recovery's seek before the seek back
    left = await thread.seek_back({CHANGELOG: 30, AUDIT: 5})
    assert client.positions[CHANGELOG] == RECOVERY_START and client.positions[AUDIT] == 5
    assert left == {CHANGELOG: "left at 40: sought (or reset) since the fetch left it at 45"}
