"""Messages that have waited already go out at once, one batch and one future per topic-partition.

Under at-least-once a batch's outputs leave only once the broker acknowledged its audit rows
(commit.py, "Audit before outputs"). Sent one ``producer.send`` at a time they would wait in the
producer's linger a second time (5 ms, app.py), after the audit message's own: two lingers on every
event's path where the raw client pays one (docs/performance.md, Kafka runtime), and a coroutine and a
future per message. Here they are appended to one ``BatchBuilder`` per topic-partition (aiokafka's
batch API), each closed, so the sender takes it at once, and submitted with ``send_batch``: one future
per batch. A message's partition is the one ``send`` would choose: aiokafka's ``DefaultPartitioner``
(murmur2 of the key, what faust's producer uses) over the topic's partitions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]  # topic, key, value, headers

_PARTITIONER = DefaultPartitioner()


async def send_batches(producer: Any, messages: Sequence[Message]) -> list[asyncio.Future[Any]]:
    """Queue ``messages`` (in order within each topic-partition) as closed batches; their futures."""
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    futures: list[asyncio.Future[Any]] = []
    for topic, key, value, headers in messages:
        parts = partitions.get(topic)
        if parts is None:
            parts = partitions[topic] = list(await producer.partitions_for(topic))
        partition: int = _PARTITIONER(key, parts, parts)
        tp = (topic, partition)
        batch = open_batches.get(tp)
        if batch is None:
            batch = open_batches[tp] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # full (the producer's max batch size): this one goes, the message starts the next
            futures.append(await _submit(producer, batch, tp))
            batch = open_batches[tp] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a message of {len(value or b'')} bytes does not fit a batch for {topic}")
    for tp, batch in open_batches.items():
        futures.append(await _submit(producer, batch, tp))
    return futures


async def _submit(producer: Any, batch: Any, tp: tuple[str, int]) -> asyncio.Future[Any]:
    batch.close()  # a closed batch does not linger (and takes no other send's message)
    future: asyncio.Future[Any] = await producer.send_batch(batch, tp[0], partition=tp[1])
    return future
