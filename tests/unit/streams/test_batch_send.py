"""streams/kafka/batch_send.py: messages that waited already go out as closed batches, one per
topic-partition, on the partition Kafka's default partitioner gives their key."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import murmur2

from dana_workflows.streams.kafka.batch_send import send_batches
from tests.unit.streams.kafka_fakes import Batch, Producer

pytestmark = pytest.mark.unit


class BatchRecorder(Producer):
    """Records each submitted batch with its topic and partition; topics have three partitions."""

    def __init__(self) -> None:
        super().__init__([])
        self.batches: list[tuple[str, int, list[tuple[bytes | None, bytes | None, Any]]]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.batches.append((topic, partition, list(batch.messages)))
        return await super().send_batch(batch, topic, partition=partition)


def kafka_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for a keyed record: murmur2 of the key, positive, modulo the count."""
    partition: int = (murmur2(key) & 0x7FFFFFFF) % partitions
    return partition


async def test_one_closed_batch_per_topic_partition_in_order_on_the_keys_partition() -> None:
    producer = BatchRecorder()
    keys = [f"run-{i}".encode() for i in range(30)]
    messages = [("out", k, b"v" + k, [("h", b"1")]) for k in keys] + [("audit", b"src:0", b"rows", None)]
    futures = await send_batches(producer, messages)
    await asyncio.gather(*futures)
    assert len(futures) == len(producer.batches)  # one future per batch, not per message
    seen = set()
    for topic, partition, batch in producer.batches:
        assert (topic, partition) not in seen  # one batch per topic-partition
        seen.add((topic, partition))
        for key, _, _ in batch:
            assert key is not None and kafka_partition(key, 3) == partition
    out = {p: [k for k, _, _ in b] for t, p, b in producer.batches if t == "out"}
    for partition, got in out.items():  # the order of the messages, within each partition
        assert got == [k for k in keys if kafka_partition(k, 3) == partition]
    assert sum(len(v) for v in out.values()) == len(keys)
    assert ("send", "out", b"run-0", b"vrun-0") in producer.calls  # and each is sent, with its value
    assert [b[2] for b in producer.batches if b[0] == "audit"] == [[(b"src:0", b"rows", None)]]


async def test_a_full_batch_goes_and_the_message_starts_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Batch, "capacity", 2)
    producer = BatchRecorder()
    key = b"one-run"  # one partition: five messages in batches of two, in order
    futures = await send_batches(producer, [("out", key, bytes([i]), None) for i in range(5)])
    await asyncio.gather(*futures)
    assert [[v for _, v, _ in b] for _, _, b in producer.batches] == [
        [b"\x00", b"\x01"],
        [b"\x02", b"\x03"],
        [b"\x04"],
    ]


async def test_a_message_no_batch_takes_is_an_error_not_a_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Batch, "capacity", 0)
    with pytest.raises(ValueError, match="does not fit a batch for out"):
        await send_batches(BatchRecorder(), [("out", b"k", b"v", None)])


async def test_a_failed_delivery_fails_the_batch_future() -> None:
    producer = BatchRecorder()
    producer.fail = RuntimeError("broker said no")
    (future,) = await send_batches(producer, [("out", b"k", b"v", None)])
    with pytest.raises(RuntimeError, match="broker said no"):
        await future


class QueueBehind(BatchRecorder):
    """aiokafka's add_batch giving up early behind a queue of batches (KafkaTimeoutError, nothing queued),
    ``refusals`` times before it takes the batch."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if self.refusals:
            self.refusals -= 1
            raise KafkaTimeoutError()
        return await super().send_batch(batch, topic, partition=partition)


async def test_a_batch_refused_early_is_submitted_again_until_the_deadline() -> None:
    producer = QueueBehind(refusals=3)
    (future,) = await send_batches(producer, [("out", b"k", b"v", None)], clock=lambda: 0.0)
    await future
    assert producer.calls == [("send", "out", b"k", b"v")]  # taken once, after the refusals

    late = QueueBehind(refusals=1)
    times = iter([0.0, 61.0])  # the deadline (60 s) passed by the time it was refused
    with pytest.raises(KafkaTimeoutError):
        await send_batches(late, [("out", b"k", b"v", None)], clock=lambda: next(times))
    assert late.calls == []
