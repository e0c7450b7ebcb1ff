"""The fetcher's loop of streams/kafka/delivery.py: while the consumer's flow runs, each fetched record is
handed to the conductor by awaiting it directly (no ``wait_first``); whenever the flow is suspended for a
rebalance, the app's flow control is off, the producer's buffer is over its limit or the partition's
channel is full, the record goes faust's own way (``wait_first`` with the flow's suspension); a record
below the partition's read offset is not delivered; the read offset follows every record handed over.

The loop runs on a stand-in for faust's consumer holding only what the loop reads (the real consumer
needs a broker; tests/integration/test_kafka_*.py run the loop inside workers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka.delivery import DirectDeliveryConsumer

pytestmark = pytest.mark.unit

TP = ("t", 0)


class Flag:
    def __init__(self, on: bool = False) -> None:
        self.on = on

    def is_set(self) -> bool:
        return self.on

    async def wait(self) -> None:
        return None


class Stand:
    """What ``_drain_messages`` reads from faust's consumer, its app and its fetcher."""

    def __init__(
        self,
        offsets: list[int],
        *,
        suspended: bool = False,
        flow: bool = True,
        buffer: int = 0,
        full: bool = False,
    ):
        self.offsets = offsets
        self.delivered: list[int] = []
        self.via_wait_first: list[int] = []
        self.fetcher = SimpleNamespace(_stopped=Flag())
        self._stopped = Flag()
        self.suspend_flow = Flag(suspended)
        self.app = SimpleNamespace(
            flow_control=SimpleNamespace(is_active=lambda: flow),
            producer=SimpleNamespace(buffer=SimpleNamespace(size=buffer, max_messages=100)),
            topics=SimpleNamespace(
                acks_enabled_for=lambda topic: False,
                _tp_index={TP: [SimpleNamespace(queue=SimpleNamespace(full=lambda: full))]},
            ),
        )
        self._read_offset: dict[tuple[str, int], int | None] = {TP: None}
        self.diag = SimpleNamespace(set_flag=lambda f: None, unset_flag=lambda f: None)
        self._commit_every = None
        self._n_acked = 0
        self.should_stop = False
        self.consumer_stopped_errors = ()
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))
        self.log = SimpleNamespace(info=print, exception=print)

    async def callback(self, message: Any) -> None:
        self.delivered.append(message.offset)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        for offset in self.offsets:
            yield TP, SimpleNamespace(offset=offset, topic=TP[0])
        self.fetcher._stopped.on = True  # one fetch, then the loop ends

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coros: Any) -> None:
        delivery = coros[0]
        self.via_wait_first.append(delivery.cr_frame.f_locals["message"].offset)
        for coro in coros:
            await coro


async def drain(stand: Stand) -> Stand:
    await DirectDeliveryConsumer._drain_messages(stand, stand.fetcher)  # type: ignore[arg-type]
    return stand


async def test_a_flowing_consumer_hands_each_record_over_directly() -> None:
    stand = await drain(Stand([5, 6, 7]))
    assert stand.delivered == [5, 6, 7]
    assert stand.via_wait_first == []
    assert stand._read_offset[TP] == 7


@pytest.mark.parametrize(
    "state",
    [{"suspended": True}, {"flow": False}, {"buffer": 101}, {"full": True}],
    ids=[
        "flow suspended (rebalance)",
        "app flow control off",
        "producer buffer over its limit",
        "the agent's channel is full",
    ],
)
async def test_anything_that_could_wait_goes_faust_s_own_way(state: dict[str, Any]) -> None:
    stand = await drain(Stand([5, 6], **state))
    assert stand.delivered == [5, 6]
    assert stand.via_wait_first == [5, 6]


async def test_a_buffer_at_its_limit_still_flows_directly() -> None:
    stand = await drain(Stand([5], buffer=100))  # faust waits for the buffer only above max_messages
    assert stand.via_wait_first == []


async def test_a_record_below_the_read_offset_is_not_delivered() -> None:
    stand = Stand([3, 9, 4, 10])
    stand._read_offset[TP] = 8
    await drain(stand)
    assert stand.delivered == [9, 10]
    assert stand._read_offset[TP] == 10
