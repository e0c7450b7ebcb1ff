"""The broker's view of source partitions (streams/kafka/broker_view.py) against a stand-in broker: where
consuming started (the group's committed offset, else the log start), and which records a range holds (the
last offset scanned, the records up to the range's end by offset, markers skipped; a partition that does not
answer in time comes back with what was scanned), read by one consumer of its own with no group and the
worker's isolation level, stopped once at close."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from dana_workflows.streams.kafka import broker_view as module
from dana_workflows.streams.kafka.broker_view import BrokerView
from dana_workflows.streams.kafka.security import KafkaSecurity

pytestmark = pytest.mark.unit


class Log:
    """Per partition: the offsets holding records (others are markers) and the log end."""

    def __init__(self) -> None:
        self.records: dict[TopicPartition, list[int]] = {}
        self.end: dict[TopicPartition, int] = {}
        self.silent: set[TopicPartition] = set()  # the broker does not answer for these


class Scanner:
    def __init__(self, log: Log, **kwargs: Any) -> None:
        self.log, self.kwargs = log, kwargs
        self.positions: dict[TopicPartition, int] = {}
        self.started = self.stopped = 0
        self.fail_stop = False

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1
        if self.fail_stop:
            raise RuntimeError("connection already gone")

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(tps, 0)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        await asyncio.sleep(0)
        out: dict[TopicPartition, list[Any]] = {}
        for tp in tps:
            if tp in self.log.silent:
                continue
            ahead = [o for o in self.log.records[tp] if o >= self.positions[tp]][:2]
            if ahead:
                out[tp] = [SimpleNamespace(offset=o, value=f"v{o}".encode()) for o in ahead]
                self.positions[tp] = ahead[-1] + 1
            else:
                self.positions[tp] = max(self.positions[tp], self.log.end[tp])
        return out


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    broker = Log()
    made: list[Scanner] = []
    broker.made = made  # type: ignore[attr-defined]

    def scanner(**kwargs: Any) -> Scanner:
        made.append(Scanner(broker, **kwargs))
        return made[-1]

    monkeypatch.setattr(module, "AIOKafkaConsumer", scanner)
    return broker


def view(read_committed: bool = True) -> BrokerView:
    return BrokerView(SimpleNamespace(), "broker:9092", read_committed, KafkaSecurity())


def test_a_range_returns_its_records_by_offset_markers_skipped(log: Log) -> None:
    a = TopicPartition("dwf.claims.in", 0)
    log.records[a], log.end[a] = [0, 1, 2, 4, 5, 7, 8, 9], 10  # 3 and 6 are transaction markers
    got = asyncio.run(view().scan({("dwf.claims.in", 0): (2, 6)}))
    reached, records = got[("dwf.claims.in", 0)]
    assert reached == 6
    assert sorted(records) == [2, 4, 5]
    assert records[4].value == b"v4"


def test_several_partitions_and_one_that_does_not_answer(log: Log) -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    log.records[a], log.end[a] = [0, 1, 2, 3], 4
    log.records[b], log.end[b] = [0, 1, 2], 3
    log.silent.add(b)
    got = asyncio.run(view().scan({("t", 0): (1, 3), ("t", 1): (1, 2)}, timeout_s=0.2))
    assert got[("t", 0)][0] == 3 and sorted(got[("t", 0)][1]) == [1, 2, 3]
    assert got[("t", 1)] == (0, {})  # nothing scanned: start - 1


def test_a_range_at_the_end_of_the_log_of_markers_only_is_reached(log: Log) -> None:
    a = TopicPartition("t", 0)
    log.records[a], log.end[a] = [0, 1], 4  # 2 and 3: markers
    assert asyncio.run(view().scan({("t", 0): (2, 3)})) == {("t", 0): (3, {})}


def test_nothing_to_scan_opens_no_consumer(log: Log) -> None:
    assert asyncio.run(view().scan({})) == {}
    assert log.made == []  # type: ignore[attr-defined]


def test_one_scanner_beside_the_group_with_the_workers_isolation_stopped_at_close(log: Log) -> None:
    a = TopicPartition("t", 0)
    log.records[a], log.end[a] = [0], 1
    v = view(read_committed=False)

    async def main() -> None:
        await v.scan({("t", 0): (0, 0)})
        await v.scan({("t", 0): (0, 0)})
        await v.close()
        await v.close()

    asyncio.run(main())
    (scanner,) = log.made  # type: ignore[attr-defined]
    assert scanner.kwargs["group_id"] is None
    assert scanner.kwargs["enable_auto_commit"] is False
    assert scanner.kwargs["isolation_level"] == "read_uncommitted"
    assert scanner.kwargs["bootstrap_servers"] == "broker:9092"
    assert scanner.kwargs["security_protocol"] == "PLAINTEXT"
    assert (scanner.started, scanner.stopped) == (1, 1)
    assert view(read_committed=True).isolation_level == "read_committed"


def test_a_failing_close_is_not_an_error(log: Log) -> None:
    a = TopicPartition("t", 0)
    log.records[a], log.end[a] = [0], 1
    v = view()

    async def main() -> None:
        await v.scan({("t", 0): (0, 0)})
        log.made[0].fail_stop = True  # type: ignore[attr-defined]
        await v.close()

    asyncio.run(main())


def test_starts_are_the_groups_commits_else_the_log_start() -> None:
    committed = {TopicPartition("t", 0): 42}
    firsts = {TopicPartition("t", 1): 7, TopicPartition("u", 0): 0}
    asked: list[list[TopicPartition]] = []

    class GroupConsumer:
        async def committed(self, tp: TopicPartition) -> int | None:
            return committed.get(tp)

        async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            asked.append(list(tps))
            return {tp: firsts[tp] for tp in tps}

    class Thread:
        def _ensure_consumer(self) -> GroupConsumer:
            return GroupConsumer()

        async def call_thread(self, fn: Any) -> Any:
            return await fn()

    app = SimpleNamespace(consumer=SimpleNamespace(_thread=Thread()))
    v = BrokerView(app, "broker:9092", True)
    got = asyncio.run(v.starts([("t", 0), ("t", 1), ("u", 0)]))
    assert got == {("t", 0): 42, ("t", 1): 7, ("u", 0): 0}
    assert asked == [[TopicPartition("t", 1), TopicPartition("u", 0)]]  # only those without a commit
    assert asyncio.run(v.starts([("t", 0)])) == {("t", 0): 42}
    assert len(asked) == 1
