"""faust's fetcher, delivering a fetched record to its agent's channel without four tasks per record.

faust's ``Consumer._drain_messages`` hands each fetched record to the conductor inside
``wait_first(callback(message), suspend_flow.wait())``: the delivery, the flow-suspension wait, and the
service's stopped and crashed waits each become a task, ``asyncio.wait`` runs over them, and three are
cancelled, for every record (a large share of faust's per-record cost in a py-spy of a worker,
docs/performance.md). The delivery itself (the conductor's ``on_message``: flow control, the producer
buffer, raw decode, ``put_nowait`` into the channel) cannot wait when the flow runs and the channels
have room, so here it is awaited directly then. Whenever it could wait (the consumer's flow is suspended
for a rebalance, the app's flow control is off, the producer buffer is over its limit, a channel of the
partition is full), the record goes faust's own way, so that a rebalance still interrupts a delivery that
waits. The rest of the loop is faust-streaming 0.15's, line for line.

Why a full channel goes faust's way: a first version awaited those deliveries directly too, and the
two-worker test (tests/integration/test_kafka_group.py, at-least-once) failed once with it, 114 of 4,000
events without an outcome within the test's bound. The likely way (read from faust's code, not traced): a
fetcher blocked on a full channel across a rebalance goes on with its batch fetched before the seek once
the flow resumes, moves faust's read offsets past the records fetched again after the seek, and those are
dropped, left to the committer's healing (one record a partition a commit). With the check, the group,
dropped-record, crash, poison and outage tests passed; a later run failed the two-worker test under
exactly-once the same way (a run of records dropped after the seek, handed back one every two commits),
so the committer now hands back every record of such a gap at once (commit.py, ``_settle``).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service


class DirectDeliveryConsumer(faust_aiokafka.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (the Kafka tests run it)
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        suspended = self.suspend_flow.is_set
        flow_active = self.app.flow_control.is_active
        producer_buffer = self.app.producer.buffer
        channels_of = cast(Any, self.app.topics)._tp_index.get  # the channels a partition's records go to

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
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
                            if (
                                not suspended()
                                and flow_active()
                                and producer_buffer.size <= producer_buffer.max_messages
                                and not any(c.queue.full() for c in channels_of(tp, ()))
                            ):
                                await callback(message)  # the conductor's put_nowait: no wait in this state
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
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


class DirectDeliveryTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Any]] = DirectDeliveryConsumer


def use_direct_delivery(app: Any) -> None:
    """Before the app's first topic: its consumer is a ``DirectDeliveryConsumer``."""
    app.transport = DirectDeliveryTransport(app.conf.broker_consumer, app)
