"""The audit sink agent: `dwf.audit` -> batched inserts into the audit store -> offsets committed.

Rows arrive in ``dwf.AuditBatch`` messages (the rows of many source records; a single ``dwf.AuditRow``
is read too), Confluent wire format. A message's rows go into a ``sinks.batching.BatchingAuditSink`` lane
per topic-partition in one put (a batch never splits a message), which cuts batches by size and age,
inserts them off the event loop (chdb and clickhouse-driver block), retries until stored (the one retry
layer) and presents ``insert_deduplication_token = <topic>-<partition>-<min offset>-<max offset>``.
Only after a batch is stored is its max offset handed to the committer, so a crash before the insert
means redelivery, never loss. Before a rebalance takes partitions away, the sink is flushed so that
the rows already consumed are stored and committed, not inserted again by the next owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.batching import BatchingAuditSink, CommittedBatch, Origin
from dana_workflows.streams.kafka.agent_loop import AgentStats, Batch
from dana_workflows.streams.kafka.context import AgentContext

log = logging.getLogger(__name__)


class AuditSinkAgent:
    def __init__(self, ctx: AgentContext, store: AuditStore) -> None:
        self.ctx = ctx
        self.store = store
        o = ctx.options
        self.sink = BatchingAuditSink(
            store,
            o.audit_batch_size,
            o.audit_interval_s,
            o.audit_buffer_max,
            on_commit=self._stored,
            check_replays=ctx.exactly_once,  # at-least-once keeps redelivered duplicates visible
        )
        self.topic = ctx.topology.audit_topic
        # after a batch is stored and its offsets handed to the committer (e.g. the insert metrics)
        self.on_stored: list[Callable[[CommittedBatch], None]] = []
        self._unstored: set[Origin] = set()  # records put into the sink whose batch is not stored yet
        # an offset is handled once its batch is stored, not when it is taken: progress is counted apart
        self.stats = AgentStats(self.topic)
        ctx.agents.count_taken(self.topic, lambda: self.stats.events)
        ctx.add_agent(ctx.raw_topic(self.topic), "audit-sink", self.stats, self._each, track_offsets=False)
        ctx.committer.before_revoke_commit.append(self._before_revoke)

    @property
    def events(self) -> int:
        return self.stats.events

    async def start(self) -> None:
        await asyncio.to_thread(self.store.ensure_schema)

    async def _each(self, batch: Batch) -> None:
        for msg in batch:
            await self.handle(msg)

    async def handle(self, msg: Any) -> None:
        if self.ctx.committer.stale(msg):  # delivered twice around a rebalance (commit.py)
            return
        if Origin(msg.topic, msg.partition, msg.offset) in self._unstored:
            return  # in a batch not stored yet (the committer may hand it back meanwhile)
        try:
            rows = self.ctx.codec.decode_rows(msg.value)
        except PoisonMessageError as exc:
            # to dlq, and handled: commits stop at the first offset not accounted for, so rows before it
            # that are not stored yet still hold the commit back
            await self.ctx.send_poison(msg, exc)
            return
        if not rows:  # nothing to store: handled now (a commit still stops at earlier unstored rows)
            self.ctx.committer.done(msg.topic, msg.partition, msg.offset)
            return
        origin = Origin(msg.topic, msg.partition, msg.offset)
        self._unstored.add(origin)
        await self.sink.put(rows, origin)

    def _stored(self, batch: CommittedBatch) -> None:
        if batch.topic is not None and batch.partition is not None:
            for offset in batch.offsets:
                self.ctx.committer.done(batch.topic, batch.partition, offset)
                self._unstored.discard(Origin(batch.topic, batch.partition, offset))
        for hook in self.on_stored:
            hook(batch)

    async def flush(self) -> None:
        await self.sink.flush()

    async def _before_revoke(self) -> None:
        await self.flush()
        self.sink.forget_lanes()  # whoever gets a partition next may store rows this worker then replays

    async def close(self) -> None:
        await self.sink.close(timeout_s=30.0)
        await asyncio.to_thread(self.store.close)
