"""Reading a topic whole (streams/kafka/topic_reader.py) against a stand-in broker: its partitions from the
admin client (sorted; none when the topic does not exist), and every record from the beginning to the end
at the time of asking, committed ones only unless asked otherwise, with no consumer group."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from dana_workflows.streams.kafka import topic_reader as module
from dana_workflows.streams.kafka.security import KafkaSecurity
from dana_workflows.streams.kafka.topic_reader import partitions, read_records

pytestmark = pytest.mark.unit


class Broker:
    def __init__(self) -> None:
        self.records: dict[TopicPartition, list[int]] = {}
        self.end: dict[TopicPartition, int] = {}
        self.admins: list[Any] = []
        self.consumers: list[Any] = []
        self.cancel_on_stop = False


class Admin:
    def __init__(self, broker: Broker, **kwargs: Any) -> None:
        self.broker, self.kwargs, self.closed = broker, kwargs, False
        broker.admins.append(self)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        (topic,) = topics
        parts = [tp.partition for tp in self.broker.records if tp.topic == topic]
        if not parts:
            return [{"topic": topic, "error_code": 3, "partitions": []}]
        return [{"topic": topic, "partitions": [{"partition": p} for p in reversed(parts)]}]


class Consumer:
    def __init__(self, broker: Broker, **kwargs: Any) -> None:
        self.broker, self.kwargs = broker, kwargs
        self.positions: dict[TopicPartition, int] = {}
        self.stopped = False
        broker.consumers.append(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True
        if self.broker.cancel_on_stop:
            raise asyncio.CancelledError

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(tps, 999)  # somewhere: the reader must seek to the beginning

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.positions[tp] = 0

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.broker.end[tp] for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        out: dict[TopicPartition, list[Any]] = {}
        for tp in tps:
            ahead = [o for o in self.broker.records[tp] if self.positions[tp] <= o < self.broker.end[tp]][:2]
            if ahead:
                out[tp] = [SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o) for o in ahead]
                self.positions[tp] = ahead[-1] + 1
            else:
                self.positions[tp] = max(self.positions[tp], self.broker.end[tp])
        return out


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    b = Broker()
    monkeypatch.setattr(module, "AIOKafkaAdminClient", lambda **kw: Admin(b, **kw))
    monkeypatch.setattr(module, "AIOKafkaConsumer", lambda **kw: Consumer(b, **kw))
    return b


def test_partitions_are_sorted_and_none_for_a_missing_topic(broker: Broker) -> None:
    for p in (2, 0, 1):
        broker.records[TopicPartition("t", p)], broker.end[TopicPartition("t", p)] = [], 0
    assert asyncio.run(partitions("broker:9092", "t")) == [0, 1, 2]
    assert asyncio.run(partitions("broker:9092", "absent")) == []
    assert all(a.closed for a in broker.admins)
    assert broker.admins[0].kwargs == {"bootstrap_servers": "broker:9092", "security_protocol": "PLAINTEXT"}


def test_every_record_to_the_end_at_the_time_of_asking(broker: Broker) -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    broker.records[a], broker.end[a] = [0, 1, 3, 4, 9], 5  # 2: a marker; 9: written after the end was read
    broker.records[b], broker.end[b] = [0, 1, 2], 3
    records = asyncio.run(read_records("broker:9092", "t", KafkaSecurity()))
    assert sorted((r.partition, r.offset) for r in records) == [
        (0, 0),
        (0, 1),
        (0, 3),
        (0, 4),
        (1, 0),
        (1, 1),
        (1, 2),
    ]
    (consumer,) = broker.consumers
    assert consumer.kwargs["isolation_level"] == "read_committed"
    assert consumer.kwargs["enable_auto_commit"] is False
    assert consumer.kwargs["auto_offset_reset"] == "earliest"
    assert consumer.kwargs.get("group_id") is None
    assert consumer.kwargs["bootstrap_servers"] == "broker:9092"
    assert consumer.stopped


def test_uncommitted_records_only_when_asked(broker: Broker) -> None:
    a = TopicPartition("t", 0)
    broker.records[a], broker.end[a] = [0], 1
    asyncio.run(read_records("broker:9092", "t", committed_only=False))
    assert broker.consumers[0].kwargs["isolation_level"] == "read_uncommitted"


def test_a_missing_topic_has_no_records_and_opens_no_consumer(broker: Broker) -> None:
    assert asyncio.run(read_records("broker:9092", "absent")) == []
    assert broker.consumers == []


def test_an_empty_topic_has_no_records(broker: Broker) -> None:
    a = TopicPartition("t", 0)
    broker.records[a], broker.end[a] = [], 0
    assert asyncio.run(read_records("broker:9092", "t")) == []


def test_a_cancelled_error_from_the_consumers_stop_is_swallowed(broker: Broker) -> None:
    a = TopicPartition("t", 0)
    broker.records[a], broker.end[a] = [0, 1], 2
    broker.cancel_on_stop = True
    assert len(asyncio.run(read_records("broker:9092", "t"))) == 2
