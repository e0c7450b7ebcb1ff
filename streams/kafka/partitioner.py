"""The partition of a keyed record: Kafka's own rule, with the murmur2 hash in C.

Every producer of the project (the workers' faust producer, their batched sends in ``batch_send``, ``dana-wf
produce``, the resume topic's sends (``dana-wf dlq replay``, ``review decide``) and the shadow tap) must put a
key on the partition a Java client would: the key's murmur2 hash, its sign bit cleared, modulo the topic's
partition count (``org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey``), so that
one run's records stay on one partition whichever program wrote them. aiokafka's ``DefaultPartitioner`` does
that with a pure-Python murmur2, one per record a worker sends (its cost a key and share of a worker's
samples: docs/kafka-runtime.md, "The partition of a key"). ``Murmur2Partitioner`` is the same rule with
``schemas/_avrofast.c``'s ``murmur2`` (the same 32-bit values, unit-tested against aiokafka's and the Java
client's), and aiokafka's own murmur2 where the extension is not built.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from aiokafka.partitioner import murmur2 as _python_murmur2

from dana_workflows.schemas.codec import accelerator_function

murmur2: Callable[[bytes], int] = accelerator_function("murmur2") or _python_murmur2


class Murmur2Partitioner:
    """aiokafka's partitioner interface (``partitioner=`` of AIOKafkaProducer, faust's
    ``producer_partitioner``): ``(key, all_partitions, available) -> partition``."""

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:  # unkeyed: any available partition, as aiokafka's DefaultPartitioner picks
            return random.choice(available or all_partitions)
        return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


PARTITIONER = Murmur2Partitioner()
