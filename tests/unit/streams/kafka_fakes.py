"""Stand-ins for the client objects streams/kafka/commit.py talks to: faust's app (its producer with one
transactional producer per partition group, its consumer, its signals), the broker's view, the agents'
registry. Each records the calls it gets, so a test asserts what the committer decided (which offsets, in
which order, when) without a broker. No bookkeeping of the committer's is reproduced here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from dana_workflows.streams.kafka.agent_loop import WorkerState
from dana_workflows.streams.kafka.frontier import Key

Call = tuple[Any, ...]


def record(topic: str, partition: int, offset: int) -> SimpleNamespace:
    """A consumed record as the committer sees it (faust's message / aiokafka's ConsumerRecord)."""
    return SimpleNamespace(topic=topic, partition=partition, offset=offset)


class Signal:
    def __init__(self) -> None:
        self.receivers: list[Callable[..., Awaitable[None]]] = []

    def connect(self, receiver: Callable[..., Awaitable[None]]) -> None:
        self.receivers.append(receiver)

    async def send(self, *args: Any) -> None:
        for receiver in self.receivers:
            await receiver(None, *args)


class Producer:
    """aiokafka's producer: ``send`` queues and returns the delivery's future. ``hold``: deliveries stay
    pending until the test settles them; ``fail``: they fail."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls
        self.hold = False
        self.fail: BaseException | None = None
        self.held: list[asyncio.Future[Any]] = []
        self.headers: dict[tuple[str, bytes | None], Any] = {}  # the headers sent, by (topic, key)

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[Any]:
        self.calls.append(("send", topic, key, value))
        self.headers[(topic, key)] = headers
        return self._delivery()

    def _delivery(self) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            future.set_exception(self.fail)
            # a committer may drop it unawaited (a voided transaction's): asyncio must not log it at garbage
            # collection, which can run in the middle of an unrelated compile() and break it
            future.exception()
        elif self.hold:
            self.held.append(future)
        else:
            future.set_result(None)
        return future

    # aiokafka's batch API (streams/kafka/batch_send.py): a batch's messages are recorded as sends, in order
    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert batch.closed, "a batch is closed before it is sent (else it lingers)"
        # each message recorded (and held or failed) as a send; the batch's one future is all of theirs
        sends = [
            await self.send(topic, value, key=key, headers=headers) for key, value, headers in batch.messages
        ]
        return asyncio.gather(*sends)


class Batch:
    """aiokafka's BatchBuilder: takes ``capacity`` messages, then refuses (None) as a full one does."""

    capacity = 1000

    def __init__(self) -> None:
        self.messages: list[tuple[bytes | None, bytes | None, Any]] = []
        self.closed = False

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: Any, headers: Any) -> Any:
        if self.closed or len(self.messages) >= self.capacity:
            return None
        self.messages.append((key, value, headers))
        return object()

    def close(self) -> None:
        self.closed = True


class Transaction(Producer):
    """One transactional producer (faust keeps one per assigned partition group)."""

    def __init__(self, calls: list[Call], consumer: Consumer) -> None:
        super().__init__(calls)
        self.consumer = consumer
        self._offsets: dict[Any, int] = {}

    async def send_offsets_to_transaction(self, offsets: dict[Any, int], group_id: str) -> None:
        self.calls.append(("offsets", dict(offsets), group_id))
        self._offsets = dict(offsets)

    async def commit_transaction(self) -> None:
        self.calls.append(("commit",))
        self.consumer.publish(self._offsets)
        self._offsets = {}

    async def abort_transaction(self) -> None:
        self.calls.append(("abort",))
        self._offsets = {}

    async def begin_transaction(self) -> None:
        self.calls.append(("begin",))


class Consumer:
    """The group consumer: offset commits (``accept`` answers them), positions, and the group's committed
    offsets as an OffsetFetch sees them, ``lag`` fetches after a transaction committed them."""

    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls
        self.accept = True
        self.positions: dict[Key, int] = {}
        self.group: dict[Key, int] = {}
        self.lag = 0
        self.fetches = 0
        self._thread = self
        self._coming: list[tuple[int, dict[Key, int]]] = []

    async def _commit(self, offsets: dict[Any, int]) -> bool:
        self.calls.append(("group commit", {(tp.topic, tp.partition): o for tp, o in offsets.items()}))
        return self.accept

    async def position(self, tp: Any) -> int:
        return self.positions[(tp.topic, tp.partition)]

    def publish(self, offsets: dict[Any, int]) -> None:
        self._coming.append(
            (self.fetches + self.lag, {(tp.topic, tp.partition): o for tp, o in offsets.items()})
        )

    # the consumer thread faust runs aiokafka in, and the aiokafka consumer inside it
    def _ensure_consumer(self) -> Consumer:
        return self

    async def call_thread(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        self.fetches += 1
        for at, offsets in list(self._coming):
            if self.fetches > at:
                self.group.update(offsets)
                self._coming.remove((at, offsets))
        return await fn(*args)

    async def committed(self, tp: Any) -> int | None:
        return self.group.get((tp.topic, tp.partition))


class App:
    """faust's app as the committer uses it. ``groups``: topic -> partition group (the assignor's)."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.calls: list[Call] = []
        self.conf = SimpleNamespace(id="claims-app")
        self.groups = groups
        self.assignor = SimpleNamespace(group_for_topic=self.groups.__getitem__)
        self.consumer = Consumer(self.calls)
        self.plain = Producer(self.calls)
        self.producer = SimpleNamespace(
            _trn_locks={}, _transaction_producers={}, _ensure_producer=lambda: self.plain
        )
        self.flowing = True
        self.flow_control = SimpleNamespace(is_active=lambda: self.flowing)
        self.on_partitions_revoked = Signal()
        self.on_partitions_assigned = Signal()
        self.crashes: list[BaseException] = []

    def open_transaction(self, tid: str) -> Transaction:
        txn = Transaction(self.calls, self.consumer)
        self.producer._trn_locks[tid] = asyncio.Lock()
        self.producer._transaction_producers[tid] = txn
        return txn

    async def crash(self, exc: BaseException) -> None:
        self.crashes.append(exc)


class View:
    """The broker's view: where each partition starts (default 0) and which offsets hold records."""

    def __init__(self) -> None:
        self.start: dict[Key, int] = {}
        self.records: dict[Key, set[int]] = {}
        self.asked: list[list[Key]] = []
        self.scans: list[dict[Key, tuple[int, int]]] = []
        self.fail: BaseException | None = None

    async def starts(self, keys: list[Key]) -> dict[Key, int]:
        self.asked.append(sorted(keys))
        return {k: self.start.get(k, 0) for k in keys}

    async def scan(self, ranges: dict[Key, tuple[int, int]]) -> dict[Key, tuple[int, dict[int, Any]]]:
        self.scans.append(dict(ranges))
        if self.fail is not None:
            raise self.fail
        return {
            k: (end, {o: record(*k, o) for o in sorted(self.records.get(k, set())) if start <= o <= end})
            for k, (start, end) in ranges.items()
        }


@dataclass
class Agents:
    """The agents' registry: the worker's state, records handed back, records taken per topic."""

    state: WorkerState = field(default_factory=WorkerState)
    handed_back: list[Any] = field(default_factory=list)
    taken_count: dict[str, int] = field(default_factory=dict)

    async def redeliver(self, rec: Any) -> None:
        self.handed_back.append(rec)

    def taken(self, topic: str) -> int:
        return self.taken_count.get(topic, 0)
