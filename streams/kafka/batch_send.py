"""Messages that have waited already go out at once, one batch and one future per topic-partition.

Under at-least-once a batch's outputs leave only once the broker acknowledged its audit rows
(commit.py, "Audit before outputs"). Sent one ``producer.send`` at a time they would wait in the
producer's linger a second time (5 ms, app.py), after the audit message's own: two lingers on every
event's path where the raw client pays one (docs/performance.md, Kafka runtime), and a coroutine and a
future per message. Here they are appended to one ``BatchBuilder`` per topic-partition (aiokafka's
batch API), each closed, so the sender takes it at once, and submitted with ``send_batch``: one future
per batch. A message's partition is the one ``send`` would choose: the producers' ``Murmur2Partitioner``
(Kafka's murmur2 of the key, partitioner.py; the partitioner faust's producer is given, app.py) over the
topic's partitions.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaTimeoutError

from dana_workflows.streams.kafka.partitioner import PARTITIONER

Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]  # topic, key, value, headers

_LOCKS: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], asyncio.Lock]] = weakref.WeakKeyDictionary()
SUBMIT_TIMEOUT_S = 60.0  # a batch the producer cannot take for this long: the worker stops (commit.py)


async def send_batches(
    producer: Any,
    messages: Sequence[Message],
    timeout_s: float = SUBMIT_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> list[asyncio.Future[Any]]:
    """Queue ``messages`` (in order within each topic-partition) as closed batches; their futures.
    A batch the producer does not take within ``timeout_s`` raises aiokafka's KafkaTimeoutError."""
    deadline = clock() + timeout_s
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    futures: list[asyncio.Future[Any]] = []
    for topic, key, value, headers in messages:
        parts = partitions.get(topic)
        if parts is None:
            parts = partitions[topic] = list(await producer.partitions_for(topic))
        partition = PARTITIONER(key, parts, parts)
        tp = (topic, partition)
        batch = open_batches.get(tp)
        if batch is None:
            batch = open_batches[tp] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # full (the producer's max batch size): this one goes, the message starts the next
            futures.append(await _submit(producer, batch, tp, deadline, clock))
            batch = open_batches[tp] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a message of {len(value or b'')} bytes does not fit a batch for {topic}")
    for tp, batch in open_batches.items():
        futures.append(await _submit(producer, batch, tp, deadline, clock))
    return futures


async def _submit(
    producer: Any, batch: Any, tp: tuple[str, int], deadline: float, clock: Callable[[], float]
) -> asyncio.Future[Any]:
    batch.close()  # a closed batch does not linger (and takes no other send's message)
    # aiokafka's add_batch waits until the partition's last queued batch is drained, then queues this one;
    # all its waiters wake at each drain and one wins, so under a queue of batches for one partition (a
    # worker handling one record at a time) a submission could lose every round: a lock per partition
    # (asyncio's is first come, first served) lets one of them wait there at a time, in order
    partition_locks = _LOCKS.setdefault(producer, {})
    lock = partition_locks.get(tp)
    if lock is None:
        lock = partition_locks[tp] = asyncio.Lock()
    async with lock:
        while True:
            try:
                future: asyncio.Future[Any] = await producer.send_batch(batch, tp[0], partition=tp[1])
                return future
            except KafkaTimeoutError:
                # aiokafka's add_batch (0.14) takes the time since its *first* wait off what is left after
                # each wait, so it can give up before its timeout; nothing was queued: try again, until a
                # deadline of our own
                if clock() >= deadline:
                    raise
