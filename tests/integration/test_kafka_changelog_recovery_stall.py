"""The drift changelog's recovery stall (docs/kafka-runtime.md), on a real broker and aiokafka's real fetcher:
a fetch waits in ``Fetcher.fetched_records`` while faust's revocation empties its live set of active
partitions and recovery seeks the changelog back; when the changelog's records come in, the fetch must
not take them (nor leave them taken and undelivered).

faust's fetch path runs for real over the runtime's ``DivertingConsumer`` (tests/unit/streams/
test_changelog_recovery_stall.py's ``consumer_over``); the consumer thread's calls go to a real
``AIOKafkaConsumer`` in the test's loop, ``getmany`` as faust's ``AIOKafkaConsumerThread._fetch_records``
makes it (faust/transport/drivers/aiokafka.py:1104-1112)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from faust.types import TP

from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.fetch_divert import position_of, seek_back_unmoved
from tests.unit.streams.test_changelog_recovery_stall import consumer_over, revocation_then_recovery_seek

pytestmark = pytest.mark.integration

ENDS = {"in": 10, "audit": 8, "changelog": 45}
AUDIT_COMMITTED = 5
RECOVERY_START = 40


def ak(tp: TP) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


class AiokafkaThread:
    """faust's consumer thread's calls, on a real consumer; ``meanwhile`` runs while a fetch waits."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.meanwhile: Callable[[], Awaitable[None]] | None = None
        self.answered: list[set[TP]] = []  # the partitions each fetch brought records of
        self.after_take: Callable[[], None] | None = None  # a seek in the consumer thread after the take
        self.fetched_to: dict[Any, Any] = {}

    def assignment(self) -> set[TP]:
        return {TP(tp.topic, tp.partition) for tp in self.consumer.assignment()}

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        fetcher = self.consumer._fetcher
        with fetcher._subscriptions.fetch_context():
            fetch = asyncio.ensure_future(fetcher.fetched_records(active_partitions, timeout=timeout))
            await asyncio.sleep(0.2)  # the fetch waits: every partition is at its end
            assert not fetch.done()
            if self.meanwhile is not None:
                await self.meanwhile()
            records = await fetch
            self.fetched_to = {tp: position_of(self.consumer, tp) for tp in records}  # as FetchThread does
            if self.after_take is not None:
                self.after_take()
            self.answered.append({TP(tp.topic, tp.partition) for tp in records})
            return records

    def seek(self, tp: TP, offset: int) -> None:
        self.consumer.seek(ak(tp), offset)

    async def seek_back(self, offsets: Any) -> dict[TP, str]:
        return seek_back_unmoved(self.consumer, offsets, self.fetched_to)

    async def seek_to_committed(self) -> Any:
        return await self.consumer.seek_to_committed()


@pytest.mark.parametrize(
    ("active", "seek_after_take"),
    [(("in", "audit"), None), (("changelog",), None), (("changelog",), 42)],
    # worker a before b joins: the inputs active, the changelog it wrote paused (recovery done); or a
    # rebalance during recovery: the changelog the one active partition, the fetch asks for it; and the
    # same with a seek in the consumer thread (recovery's seek_wait) after the fetch took its records
    ids=["inputs-active", "recovering-the-changelog", "a-seek-after-the-take"],
)
async def test_a_fetch_waiting_across_a_revocation_leaves_the_changelog_to_recovery(
    kafka_bootstrap: str, topic_prefix: str, active: tuple[str, ...], seek_after_take: int | None
) -> None:
    tps = {
        "in": TP(f"{topic_prefix}.claims-triage.in", 0),
        "audit": TP(f"{topic_prefix}.audit", 0),
        "changelog": TP(f"{topic_prefix}-claims-triage-drift-changelog", 0),
    }
    await ensure_topics(kafka_bootstrap, [tp.topic for tp in tps.values()], partitions=1, replication=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for name, tp in tps.items():
            for i in range(ENDS[name]):
                await producer.send(tp.topic, f"{name}-{i}".encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=f"{topic_prefix}-claims-triage", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([ak(tp) for tp in tps.values()])
        await consumer.commit({ak(tps["audit"]): OffsetAndMetadata(AUDIT_COMMITTED, "")})
        for name, tp in tps.items():
            consumer.seek(ak(tp), ENDS[name])
            assert await consumer.position(ak(tp)) == ENDS[name]
        client = AiokafkaThread(consumer)
        faust_consumer = consumer_over(client, {tps[name] for name in active}, tps["in"], ENDS["in"])
        client.meanwhile = revocation_then_recovery_seek(
            faust_consumer, client, tps["changelog"], RECOVERY_START
        )
        if seek_after_take is not None:
            client.after_take = lambda: consumer.seek(ak(tps["changelog"]), seek_after_take)
        expected = RECOVERY_START if seek_after_take is None else seek_after_take

        delivered = [(tp, record.offset) async for tp, record in faust_consumer.getmany(1.5)]

        assert delivered == []  # the flow stopped: nothing of the fetch is delivered
        # a fetch asks for the partitions active when it began, not every one once the revocation emptied
        # faust's set: one that asked for the inputs brings no changelog record
        assert client.answered == [{tps["changelog"]} if "changelog" in active else set()]
        # recovery reads the changelog from where it sought it (40..44 are still to come), audit goes back
        # to its committed offset (faust's perform_seek)
        # (or from a seek after the fetch took them: not undone)
        assert await consumer.position(ak(tps["changelog"])) == expected
        assert await consumer.position(ak(tps["audit"])) == AUDIT_COMMITTED
        records = await consumer.getmany(ak(tps["changelog"]), timeout_ms=5000)
        assert [r.offset for r in records.get(ak(tps["changelog"]), [])][:1] == [expected]
    finally:
        await consumer.stop()
