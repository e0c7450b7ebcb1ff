"""The fetched records of the step agents' topics diverted, a fetched list per partition, to the intake.

faust's fetch loop (``Consumer._drain_messages``) turns every fetched record into a faust message and awaits
its delivery to the conductor inside ``wait_first`` (docs/kafka-runtime.md, "Throughput"). Its loop stays
faust's own: this consumer overrides only the fetch it calls (``_wait_next_records``: active partitions, flow
control, the client's ``getmany``; ``_getmany``: a copy of the active partitions) and its consumer
thread's ``_fetch_records`` (``FetchThread``). Each partition's list of a diverted topic (the fused step
agents' sources) goes to ``Intake.offer`` in one call, and the fetch returns the rest (changelogs, drift
values, audit, resume), which faust's loop then delivers its way (read offsets, gaps, the generation
check, commit every N, ``wait_first``). With DWF_KAFKA_INTAKE=false the same consumer runs with an intake
that diverts nothing (``use_diverting_consumer``), for the fetch fix below.

Before each fetch the consumer seeks the client for the partitions whose seek the intake says is due (after
a reopen, or after records it had to drop), and it waits while the intake is full (faust's channel would
block its loop the same way; the wait ends when the consumer or faust's fetcher stops, and a cancellation
of the fetcher's task is never swallowed, intake.py ``wait_room``). The fetch asks for a copy of faust's
active partitions, not faust's own set: faust empties that set in place at a revocation (every partition
paused) and aiokafka reads an empty set as no filter, so a fetch in flight across a rebalance took every
assigned partition's records, the table changelog's too, from the offset recovery had just sought it to
(docs/kafka-runtime.md, "The drift changelog's recovery stall"). A fetch answered after faust stopped the
flow, or during which the intake was closed (a revocation: the generation moved), delivers nothing: the
diverted partitions are marked discarded (their seek is due) and every other partition among it is sought
back to its first fetched offset, since faust's own seek back (``perform_seek``) covers only partitions
with a committed offset above 0, which a changelog never has; it runs in the consumer thread and only for a
partition nobody sought since the fetch took its records (``FetchThread``). ``stop_flow`` (faust's first
step of a revocation, and of a stop) closes the intake; the end of recovery (``App.on_rebalance_end``)
reopens it. See intake.py for why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from dana_workflows.streams.kafka.frontier import Key
from dana_workflows.streams.kafka.intake import Intake

log = logging.getLogger(__name__)

ROOM_WAIT_S = 0.1  # how often a fetch waiting for room looks whether the consumer stops

RecordMap = Mapping[TP, list[Any]]


def divert(
    intake: Intake, records: RecordMap, flow_active: bool, fetched_in: int
) -> tuple[RecordMap, dict[TP, int]]:
    """What faust's loop still gets of a fetch begun in intake generation ``fetched_in``, and where the client
    must be sought back (partition -> its first fetched offset) for records nobody gets.

    With the flow active and no revocation since the fetch began, every record of a topic the intake
    diverts goes to the intake (a partition's list in one call; it queues only for a partition open in the
    current generation and sought there) and the rest is returned. Otherwise nothing is delivered: with the
    flow stopped faust's ``getmany`` delivers none of a fetch and seeks back only the partitions with a
    committed offset above 0 (aiokafka's ``seek_to_committed``), never a table's changelog, whose records
    recovery waits for; a fetch that spans a revocation (the generation moved while it waited in the
    consumer thread) brings records read before the rebalance's seeks, or of partitions not ours now. The
    diverted partitions are marked discarded (the intake seeks them to its position, or reopens them) and
    every other partition goes back to its first fetched offset, where the client stood before the fetch,
    unless a seek since the fetch took its records chose its next offset (``seek_back_unmoved``): a later
    seek (faust's to the committed offset, recovery's) still wins, and one of a partition no longer
    assigned is left (its new owner reads it from the committed offset)."""
    diverts = intake.diverts
    if not flow_active or intake.generation != fetched_in:
        back: dict[TP, int] = {}
        for tp, recs in records.items():
            if diverts(tp.topic):
                intake.discarded((tp.topic, tp.partition), len(recs))
            elif recs:
                back[tp] = recs[0].offset
        return {}, back
    rest: dict[TP, list[Any]] = {}
    for tp, recs in records.items():
        if not diverts(tp.topic):
            rest[tp] = recs
        elif recs:
            intake.offer((tp.topic, tp.partition), recs)
    return rest, {}


def position_of(client: Any, tp: TP) -> tuple[Any, int | None] | None:
    """Where aiokafka's ``client`` stands in ``tp``: its partition state (a new one at every assignment) and
    position, or None when ``tp`` is not assigned. Read in the consumer thread (aiokafka's state is that
    thread's)."""
    subscription = client._subscription.subscription
    assignment = None if subscription is None else subscription.assignment
    state = None if assignment is None else assignment.state_value(tp)
    if state is None:
        return None
    return state, state.position if state.has_valid_position else None


def seek_back_unmoved(client: Any, offsets: Mapping[TP, int], fetched_to: Mapping[TP, Any]) -> dict[TP, str]:
    """Seek ``client`` to ``offsets`` (a fetch's first offsets) in each partition still where the fetch left
    it (``fetched_to``, ``position_of`` once it took its records); return why the others were left. A seek
    since then (recovery's ``seek_wait`` and faust's ``seek_to_committed`` run in the consumer thread, between
    the fetch's answer and the main loop's turn to act on it), a reset or a new assignment (a new partition
    state) chose the partition's next offset after the fetch: seeking back would undo it, backwards
    (records read twice) or forwards past records recovery sought to read (lost to the table)."""
    left: dict[TP, str] = {}
    for tp, offset in offsets.items():
        now, then = position_of(client, tp), fetched_to.get(tp)
        if now is None:
            left[tp] = "not assigned"  # its owner reads it from the committed offset
        elif then is None or now[0] is not then[0]:
            left[tp] = f"left at {now[1]}: assigned anew since the fetch"
        elif now[1] != then[1]:
            left[tp] = f"left at {now[1]}: sought (or reset) since the fetch left it at {then[1]}"
        else:
            try:
                client.seek(tp, offset)
            except Exception as exc:  # aiokafka refused it: the next assignment decides
                left[tp] = repr(exc)
    return left


class FetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, keeping where each fetch left the client (to seek back only what nobody
    sought since, ``seek_back_unmoved``)."""

    fetched_to: Mapping[TP, Any] = {}  # position_of each partition of the last fetch, once it took them

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        # no await since the fetch took them: no seek in this thread came between
        self.fetched_to = {tp: position_of(consumer, tp) for tp in records}
        return records

    async def seek_back(self, offsets: Mapping[TP, int]) -> dict[TP, str]:
        """``seek_back_unmoved`` in the consumer thread, where the seeks it must not undo run."""
        client, fetched_to = self._ensure_consumer(), self.fetched_to

        async def unmoved() -> dict[TP, str]:  # call_thread takes a coroutine function
            return seek_back_unmoved(client, offsets, fetched_to)

        result: dict[TP, str] = await self.call_thread(unmoved)
        return result


class DivertingConsumer(faust_aiokafka.Consumer):
    _thread: FetchThread
    _fetching: set[TP] | None = None  # the active partitions the last fetch asked for (a copy)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intake = Intake()  # diverts nothing until the transport gives it one (use_diverting_consumer)

    def _new_consumer_thread(self) -> FetchThread:
        return FetchThread(self, loop=self.loop, beacon=self.beacon)

    def stop_flow(self) -> None:
        super().stop_flow()
        self.intake.close()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # faust calls stop_flow at a revocation only while the consumer still has an assignment; the intake
        # closes at every revocation, before faust's own handling of it
        self.intake.close()
        await super().on_partitions_revoked(revoked)

    def _seek_due(self) -> None:
        """Seek the client where the intake's partitions must be read from next (aiokafka drops what it
        buffered for them, and a fetch answered for another offset)."""
        intake = self.intake
        for (topic, partition), offset in intake.seeks_due().items():
            try:
                self._thread.seek(TP(topic, partition), offset)
            except Exception as exc:  # not assigned any more: the next close/reopen decides
                self.log.info("seek %s[%d] -> %d: %r", topic, partition, offset, exc)
                continue
            intake.sought((topic, partition), offset)

    def _stopping(self) -> bool:
        """The consumer or faust's fetcher stops: faust's fetch loop (``_drain_messages``) ends at either,
        and a wait for room ends too, without relying on the fetcher task's cancellation."""
        app: Any = self.app  # faust's App (AppT has no _fetcher)
        return bool(self.should_stop or app._fetcher._stopped.is_set())

    async def _seek_back(self, back: Mapping[TP, int], fetched: RecordMap) -> None:
        """Seek the client back to the first offset of records fetched and not delivered (``divert``), each
        partition only if nobody sought it since the fetch took its records (``FetchThread.seek_back``)."""
        sought = await self._thread.seek_back(back)
        for tp, offset in back.items():
            outcome = sought.get(tp)
            self.log.info(
                "%d fetched records of %s[%d] not delivered (flow stopped or revoked): seek back to %d: %s",
                len(fetched[tp]),
                tp.topic,
                tp.partition,
                offset,
                "done" if outcome is None else outcome,
            )

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        # faust passes its live set of active partitions (``Consumer._get_active_partitions``), which it
        # empties in place at a revocation while this fetch waits in the consumer thread; aiokafka's
        # ``fetched_records`` reads an empty set as "every partition". A copy keeps the fetch to what was
        # active when it began (faust fetches nothing when that is empty, consumer.py ``_wait_next_records``)
        self._fetching = None if active_partitions is None else set(active_partitions)
        return await super()._getmany(self._fetching, timeout)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        intake = self.intake
        while intake.full() and not self._stopping():
            await intake.wait_room(ROOM_WAIT_S)
        self._seek_due()
        fetched_in = intake.generation  # a revocation during the fetch makes what it brings old
        records, active_partitions = await super()._wait_next_records(timeout)
        if not records:
            return records, active_partitions
        rest, back = divert(intake, records, self.flow_active, fetched_in)
        if back:
            await self._seek_back(back, records)
        # faust delivers only records of partitions in the set returned: the one the fetch asked for, not
        # faust's live set, which a pause during the fetch changed (records left out of it were read past)
        return rest, self._fetching


class DivertingTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Any]] = DivertingConsumer
    intake: Intake

    def create_consumer(self, callback: Any, **kwargs: Any) -> Any:
        consumer: Any = super().create_consumer(callback, **kwargs)
        consumer.intake = self.intake
        return consumer


def use_diverting_consumer(app: Any, intake: Intake | None = None) -> None:
    """Before the app's first topic: its consumer is a ``DivertingConsumer`` diverting ``intake``'s topics,
    or none (``intake`` None: faust delivers every record, DWF_KAFKA_INTAKE=false), so that its fetch asks
    for a copy of the active partitions and seeks back what it does not deliver in both modes (the drift
    changelog's recovery stall, docs/kafka-runtime.md)."""
    transport = DivertingTransport(app.conf.broker_consumer, app)
    transport.intake = Intake() if intake is None else intake  # an intake with no topic diverts nothing
    app.transport = transport


def use_intake(app: Any, intake: Intake, starts: Callable[[list[Key]], Awaitable[dict[Key, int]]]) -> None:
    """Before the app's first topic: its consumer diverts ``intake``'s topics there, closes the intake
    when faust stops the flow, and reopens it once recovery has completed (``App.on_rebalance_end``,
    called at the end of faust's ``Recovery._resume_streams``, after its seek and the flow's resume)."""
    use_diverting_consumer(app, intake)
    on_rebalance_end = app.on_rebalance_end
    reopening: set[asyncio.Future[bool]] = set()

    def rebalance_end() -> None:
        on_rebalance_end()
        generation = intake.generation  # now: a close before the task runs must void this reopen
        try:
            assigned = [(tp.topic, tp.partition) for tp in app.consumer.assignment()]
        except Exception as exc:  # the consumer is stopping: nothing to reopen
            log.info("no reopen after recovery: %r", exc)
            return
        task = asyncio.ensure_future(intake.reopen(assigned, starts, generation))
        reopening.add(task)
        task.add_done_callback(reopening.discard)

    app.on_rebalance_end = rebalance_end
