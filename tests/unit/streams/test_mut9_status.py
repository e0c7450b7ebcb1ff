"""`dana-wf status` numbers (streams/status.py) against a stand-in broker: lag is the number of RECORDS
between the group's committed offset and the end (counted, not subtracted: an exactly-once commit marker
takes an offset but is no record), a partition the group never committed on counts from its beginning,
records past the end measured at the start are not counted, and the outcome topics' records are counted.
Nothing is consumed by the group: the counting consumer has no group and reads committed records only.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from dana_workflows.streams import status as status_module
from dana_workflows.streams.status import PartitionLag, WorkflowStatus, read_status

pytestmark = pytest.mark.unit


class Broker:
    """Per partition: the offsets that hold records (the others are transaction markers), the first offset
    still kept, and the end offset as a client asking now sees it. A record past that end is one produced
    after the count started."""

    def __init__(self) -> None:
        self.records: dict[TopicPartition, list[int]] = {}
        self.first: dict[TopicPartition, int] = {}
        self.end: dict[TopicPartition, int] = {}
        self.groups: dict[str, dict[TopicPartition, int]] = {}
        self.consumers: list[Consumer] = []
        self.admins: list[Admin] = []
        self.described: list[str] = []  # topics named in a metadata request (auto-created on a real one)

    def partition(self, topic: str, p: int, records: list[int], end: int, first: int = 0) -> TopicPartition:
        tp = TopicPartition(topic, p)
        self.records[tp], self.end[tp], self.first[tp] = records, end, first
        return tp


class Consumer:
    BATCH = 2  # records a fetch returns at most, so a count takes several fetches

    def __init__(self, broker: Broker, **kwargs: Any) -> None:
        self.broker, self.kwargs = broker, kwargs
        self.positions: dict[TopicPartition, int] = {}
        self.started = self.stopped = False
        broker.consumers.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = {tp: self.broker.first[tp] for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.broker.end[tp] for tp in tps}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.broker.first[tp] for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert offset >= self.broker.first[tp], "a seek below the first kept offset"
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        batch: dict[TopicPartition, list[Any]] = {}
        for tp in tps:
            ahead = [o for o in self.broker.records[tp] if o >= self.positions[tp]][: self.BATCH]
            if ahead:
                batch[tp] = [SimpleNamespace(offset=o) for o in ahead]
                self.positions[tp] = ahead[-1] + 1
            else:  # only markers left: the position moves past them
                self.positions[tp] = max(self.positions[tp], self.broker.end[tp])
        return batch


class Admin:
    def __init__(self, broker: Broker, **kwargs: Any) -> None:
        self.broker, self.kwargs = broker, kwargs
        self.closed = False
        broker.admins.append(self)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def list_consumer_group_offsets(self, group: str) -> dict[TopicPartition, Any]:
        return {tp: SimpleNamespace(offset=o) for tp, o in self.broker.groups.get(group, {}).items()}

    async def list_topics(self) -> list[str]:
        return sorted({tp.topic for tp in self.broker.records})

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        (topic,) = topics
        self.broker.described.append(topic)
        parts = [tp.partition for tp in self.broker.records if tp.topic == topic]
        if not parts:
            return [{"topic": topic, "error_code": 3, "partitions": []}]  # UNKNOWN_TOPIC_OR_PARTITION
        # no error_code: the describe of a topic that exists need not carry one
        return [{"topic": topic, "partitions": [{"partition": p} for p in reversed(parts)]}]


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    b = Broker()
    monkeypatch.setattr(status_module, "AIOKafkaConsumer", lambda **kw: Consumer(b, **kw))
    monkeypatch.setattr(status_module, "AIOKafkaAdminClient", lambda **kw: Admin(b, **kw))
    return b


def count(starts: dict[TopicPartition, int | None], kwargs: dict[str, Any] | None = None) -> dict[Any, int]:
    return asyncio.run(status_module._count_from("broker:9092", kwargs or {}, starts))


def test_records_are_counted_not_offsets_subtracted(broker: Broker) -> None:
    # offsets 3 and 6 are commit markers: 8 offsets below the end, 6 records
    tp = broker.partition("t", 0, [0, 1, 2, 4, 5, 7], end=8)
    assert count({tp: None}) == {tp: 6}
    assert count({tp: 4}) == {tp: 3}  # 4, 5, 7
    assert count({tp: 8}) == {tp: 0}


def test_records_produced_after_the_end_was_read_are_not_counted(broker: Broker) -> None:
    tp = broker.partition("t", 0, [0, 1, 2, 3, 4, 5], end=3)
    assert count({tp: None}) == {tp: 3}
    assert count({tp: 1}) == {tp: 2}


def test_a_start_below_the_first_kept_offset_counts_from_the_first(broker: Broker) -> None:
    """A committed offset older than retention: the records before the first kept one are gone."""
    tp = broker.partition("t", 0, [10, 11, 12], end=13, first=10)
    assert count({tp: 5}) == {tp: 3}
    assert count({tp: None}) == {tp: 3}
    assert count({tp: 12}) == {tp: 1}


def test_each_partition_is_counted_on_its_own(broker: Broker) -> None:
    a = broker.partition("t", 0, [0, 1, 2, 3, 4], end=5)
    b = broker.partition("t", 1, [0, 2], end=3)
    assert count({a: 2, b: None}) == {a: 3, b: 2}


def test_the_counting_consumer_reads_beside_the_group_and_is_stopped(broker: Broker) -> None:
    tp = broker.partition("t", 0, [0], end=1)
    count({tp: None}, {"security_protocol": "SSL"})
    (consumer,) = broker.consumers
    assert consumer.kwargs["group_id"] is None
    assert consumer.kwargs["enable_auto_commit"] is False
    assert consumer.kwargs["isolation_level"] == "read_committed"
    assert consumer.kwargs["auto_offset_reset"] == "earliest"
    assert consumer.kwargs["bootstrap_servers"] == "broker:9092"
    assert consumer.kwargs["security_protocol"] == "SSL"
    assert consumer.started and consumer.stopped


def test_nothing_to_count_opens_no_consumer(broker: Broker) -> None:
    assert count({}) == {}
    assert broker.consumers == []


def topology() -> Any:
    topics = {b: f"dwf.claims.{b}" for b in ("in", "out", "escalate", "rejected", "dlq")}
    return SimpleNamespace(topic=topics.__getitem__, pipeline=SimpleNamespace(terminals=["out", "escalate"]))


def test_status_of_a_workflow(broker: Broker) -> None:
    entry0 = broker.partition("dwf.claims.in", 0, [0, 1, 2, 3, 4, 5], end=6)
    entry1 = broker.partition("dwf.claims.in", 1, [0, 1, 3], end=4)  # 2 is a marker
    hop = broker.partition("dwf.claims.step2", 0, [0, 1, 2], end=3)
    hop1 = broker.partition("dwf.claims.step2", 1, [0, 1], end=2)
    broker.partition("dwf.claims.out", 0, [0, 1, 2, 3], end=4)
    broker.partition("dwf.claims.out", 1, [0], end=1)
    broker.partition("dwf.claims.rejected", 0, [0, 2], end=3)
    # no escalate topic yet, no dlq topic yet
    broker.groups["claims-app"] = {entry0: 4, hop: 3, hop1: 0, entry1: -1}  # -1: no commit on it

    got = read_status(topology(), "broker:9092", "claims-app", {"security_protocol": "PLAINTEXT"})

    assert isinstance(got, WorkflowStatus)
    assert got.group == "claims-app"
    assert got.entry_topic == "dwf.claims.in"
    assert got.lags == [
        PartitionLag("dwf.claims.in", 0, 4, 6, 2),
        PartitionLag("dwf.claims.in", 1, None, 4, 3),
        PartitionLag("dwf.claims.step2", 0, 3, 3, 0),
        PartitionLag("dwf.claims.step2", 1, 0, 2, 2),  # committed at 0: a commit, not "none yet"
    ]
    assert got.lag == 7
    assert got.entry_lag == 5
    assert got.received == 9
    assert got.outcomes == {"out": 5, "escalate": 0, "rejected": 2, "dlq": 0}
    assert got.decided == 7
    assert "dwf.claims.escalate" not in broker.described and "dwf.claims.dlq" not in broker.described
    (admin,) = broker.admins
    assert admin.kwargs == {"bootstrap_servers": "broker:9092", "security_protocol": "PLAINTEXT"}
    assert admin.closed
    for consumer in broker.consumers:  # every count and end read beside the group, on the same broker
        assert consumer.kwargs["bootstrap_servers"] == "broker:9092"
        assert consumer.kwargs["group_id"] is None
        assert consumer.kwargs["enable_auto_commit"] is False
        assert consumer.kwargs["security_protocol"] == "PLAINTEXT"
        assert consumer.stopped


def test_a_group_that_never_committed_lags_by_every_entry_record(broker: Broker) -> None:
    broker.partition("dwf.claims.in", 0, [0, 1, 2], end=3)
    got = read_status(topology(), "broker:9092", "new-group")
    assert got.lags == [PartitionLag("dwf.claims.in", 0, None, 3, 3)]
    assert got.entry_lag == got.lag == 3
    assert got.received == 3
    assert got.decided == 0


def test_no_entry_topic_is_said_and_no_missing_topic_is_named_to_the_broker(broker: Broker) -> None:
    """A metadata request naming a missing topic creates it on a broker that auto-creates (NEWCOMER2 ST1)."""
    broker.partition("other.claims.in", 0, [0], end=1)
    with pytest.raises(status_module.NoEntryTopic) as caught:
        read_status(topology(), "broker:9092", "claims-app")
    assert caught.value.entry_topic == "dwf.claims.in"
    assert caught.value.existing == {"other.claims.in"}
    assert broker.described == []
    (admin,) = broker.admins
    assert admin.closed
