"""faust's fetch loop with the step agents' records diverted, a fetched list per partition, to the intake.

faust's ``Consumer._drain_messages`` turns every fetched record into a faust message and awaits its
delivery to the conductor inside ``wait_first`` (docs/kafka-runtime.md, "Throughput"). Here the loop
fetches the same way (``_wait_next_records``: active partitions, flow control, the same client call), then
hands each partition's list of a diverted topic (the step agents' sources) to ``Intake.offer`` in one
call, and delivers every other record (changelogs, drift values, audit, resume) faust's way, line for line
as faust-streaming 0.15.3 does (read offsets, gaps, the generation check of ``getmany``, ``wait_first``).

Before each fetch the loop seeks the client for the partitions whose seek the intake says is due (after a
reopen, or after records it had to drop), and it waits while the intake is full (faust's channel would
block the loop the same way). ``stop_flow`` (faust's first step of a revocation, and of a stop) closes the
intake; the end of recovery (``App.on_rebalance_end``) reopens it. See intake.py for why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service

from dana_workflows.streams.kafka.frontier import Key
from dana_workflows.streams.kafka.intake import Intake

ROOM_WAIT_S = 0.1  # how often a loop waiting for room looks whether it should stop


class DivertingConsumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intake = Intake()  # diverts nothing; ``DivertingTransport`` gives it the runtime's

    def stop_flow(self) -> None:
        """faust's first step of a revocation (and of a stop): nothing queued is handled from here on."""
        super().stop_flow()
        self.intake.close()

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

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (the Kafka tests run it)
        intake = self.intake
        diverts = intake.diverts
        callback = self.callback
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        to_message = self._to_message
        app = self.app

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                while intake.full() and not (consumer_should_stop() or fetcher_should_stop()):
                    await intake.wait_room(ROOM_WAIT_S)
                self._seek_due()
                set_flag(CONSUMER_FETCHING)
                records, active_partitions = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records is None or self.should_stop or not records:
                    unset_flag(CONSUMER_FETCHING)
                    continue
                generation_id = app.consumer_generation_id
                if not self.flow_active:
                    # faust's getmany: fetched while the flow stopped; seek back to committed offsets
                    for tp in records:
                        if diverts(tp.topic):
                            intake.discarded((tp.topic, tp.partition))
                    try:
                        await self.perform_seek()
                    except Exception as ex:
                        self.log.warning(f"exception performing seek when flow not active {ex}")
                    unset_flag(CONSUMER_FETCHING)
                    continue
                others = {}
                for tp, recs in records.items():
                    if diverts(tp.topic):
                        if recs:
                            intake.offer((tp.topic, tp.partition), recs)
                    else:
                        others[tp] = recs
                if others:
                    for tp, record in self.scheduler.iterate(others):
                        if not self.flow_active or app.consumer_generation_id != generation_id:
                            break
                        if not (
                            active_partitions is None
                            or tp in active_partitions
                            or tp in self._buffered_partitions
                        ):
                            continue
                        app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                        message = to_message(tp, record)
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                else:
                    await sleep(0)  # a fetch of only diverted records: let the agents take them
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class DivertingTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Any]] = DivertingConsumer
    intake: Intake

    def create_consumer(self, callback: Any, **kwargs: Any) -> Any:
        consumer: Any = super().create_consumer(callback, **kwargs)
        consumer.intake = self.intake
        return consumer


def use_intake(app: Any, intake: Intake, starts: Callable[[list[Key]], Awaitable[dict[Key, int]]]) -> None:
    """Before the app's first topic: its consumer diverts ``intake``'s topics there, closes the intake
    when faust stops the flow, and reopens it once recovery has completed (``App.on_rebalance_end``,
    called at the end of faust's ``Recovery._resume_streams``, after its seek and the flow's resume)."""
    transport = DivertingTransport(app.conf.broker_consumer, app)
    transport.intake = intake
    app.transport = transport
    on_rebalance_end = app.on_rebalance_end
    reopening: set[asyncio.Future[bool]] = set()

    def rebalance_end() -> None:
        on_rebalance_end()
        assigned = [(tp.topic, tp.partition) for tp in app.consumer.assignment()]
        task = asyncio.ensure_future(intake.reopen(assigned, starts))
        reopening.add(task)
        task.add_done_callback(reopening.discard)

    app.on_rebalance_end = rebalance_end
