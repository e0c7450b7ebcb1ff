"""The state of a workflow running on Kafka, read from the broker: is every event getting an outcome?

Per topic and partition the workflow's consumer group reads: the committed offset, the end, and the lag as
the number of records still to handle (counted, not subtracted: under exactly-once every transaction
leaves a commit marker that takes an offset but is no record). And per outcome topic (out, the terminal
branches, rejected, dlq): how many records it holds so far. Nothing is consumed by the group: a consumer
without a group reads beside it, with the workers' isolation level (read_committed).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from dana_workflows.processors.pipeline import DLQ, ENTRY, REJECTED
from dana_workflows.streams.topology import Topology

COUNT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has not committed on it yet (it starts from the beginning)
    end: int
    lag: int  # records between the committed offset and the end


@dataclass
class WorkflowStatus:
    group: str
    entry_topic: str
    lags: list[PartitionLag] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # boundary -> records on its topic
    received: int = 0  # records on the entry topic

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.lags)

    @property
    def decided(self) -> int:
        return sum(self.outcomes.values())

    @property
    def entry_lag(self) -> int:
        return sum(p.lag for p in self.lags if p.topic == self.entry_topic)


class NoEntryTopic(LookupError):
    """The workflow's entry topic is not on the broker: nothing was produced under this prefix (or a
    misspelt one was given). ``existing``: the broker's topics, to suggest the prefixes near it."""

    def __init__(self, entry_topic: str, existing: set[str]) -> None:
        super().__init__(f"no topic {entry_topic}")
        self.entry_topic = entry_topic
        self.existing = existing


async def _partitions(admin: AIOKafkaAdminClient, topic: str, existing: set[str]) -> list[TopicPartition]:
    """The topic's partitions; none when it does not exist (yet). Only a listed topic is described: a
    metadata request naming a missing topic creates it on a broker with auto.create.topics.enable (its
    default), and status only reads (NEWCOMER2 ST1)."""
    if topic not in existing:
        return []
    described = await admin.describe_topics([topic])
    return [
        TopicPartition(topic, p["partition"])
        for d in described
        if d.get("error_code", 0) == 0
        for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
    ]


async def _count_from(
    bootstrap: str, kwargs: dict[str, Any], starts: dict[TopicPartition, int | None]
) -> dict[TopicPartition, int]:
    """Records (not offsets) from each start (None: the beginning) to the current end, per partition. A
    consumer of its own each time: a reassigned consumer may hand back records fetched before the seek."""
    if not starts:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",  # as the workers read: aborted records are no events
        auto_offset_reset="earliest",
        **kwargs,
    )
    await consumer.start()
    try:
        tps = list(starts)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        firsts = await consumer.beginning_offsets(tps)
        counts = dict.fromkeys(tps, 0)
        for tp, start in starts.items():
            consumer.seek(tp, firsts[tp] if start is None else max(start, firsts[tp]))
        deadline = time.monotonic() + COUNT_TIMEOUT_S
        while time.monotonic() < deadline:
            pending = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not pending:
                break
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                counts[tp] += sum(1 for r in records if r.offset < ends[tp])
        return counts
    finally:
        await consumer.stop()


async def workflow_status(
    topology: Topology, bootstrap: str, group: str, client_kwargs: dict[str, Any] | None = None
) -> WorkflowStatus:
    """The group's lag on every topic it consumes (the entry topic always) and the outcomes so far. Raises
    NoEntryTopic, creating nothing, when the entry topic does not exist."""
    kwargs = client_kwargs or {}
    status = WorkflowStatus(group=group, entry_topic=topology.topic(ENTRY))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kwargs)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if status.entry_topic not in existing:
            raise NoEntryTopic(status.entry_topic, existing)
        committed = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
        topics = {tp.topic for tp in committed} | {status.entry_topic}
        consumed = [tp for t in sorted(topics) for tp in await _partitions(admin, t, existing)]
        starts = {tp: (committed[tp] if committed.get(tp, -1) >= 0 else None) for tp in consumed}
        lags = await _count_from(bootstrap, kwargs, starts)
        ends = await _end_offsets(bootstrap, kwargs, consumed)
        status.lags = [
            PartitionLag(tp.topic, tp.partition, starts[tp], ends[tp], lags[tp]) for tp in consumed
        ]
        entry = [tp for tp in consumed if tp.topic == status.entry_topic]  # always among the consumed
        status.received = sum((await _count_from(bootstrap, kwargs, dict.fromkeys(entry))).values())
        for boundary in [*topology.pipeline.terminals, REJECTED, DLQ]:
            parts = await _partitions(admin, topology.topic(boundary), existing)
            status.outcomes[boundary] = sum(
                (await _count_from(bootstrap, kwargs, dict.fromkeys(parts))).values()
            )
    finally:
        await admin.close()
    return status


async def _end_offsets(
    bootstrap: str, kwargs: dict[str, Any], tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **kwargs
    )
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


def read_status(
    topology: Topology, bootstrap: str, group: str, client_kwargs: dict[str, Any] | None = None
) -> WorkflowStatus:
    return asyncio.run(workflow_status(topology, bootstrap, group, client_kwargs))
