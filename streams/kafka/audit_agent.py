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
from typing import TYPE_CHECKING, Any

from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.batching import BatchingAuditSink, CommittedBatch, Origin

if TYPE_CHECKING:
    from dana_workflows.streams.kafka.app import KafkaRuntime

log = logging.getLogger(__name__)


class AuditSinkAgent:
    def __init__(self, runtime: KafkaRuntime, store: AuditStore) -> None:
        self.runtime = runtime
        self.store = store
        o = runtime.options
        self.sink = BatchingAuditSink(
            store,
            o.audit_batch_size,
            o.audit_interval_s,
            o.audit_buffer_max,
            on_commit=self._stored,
            check_replays=runtime.exactly_once,  # at-least-once keeps redelivered duplicates visible
        )
        self.topic = runtime.topology.audit_topic
        self.events = 0
        self.last_event_at = 0.0
        self._unstored: set[Origin] = set()  # records put into the sink whose batch is not stored yet
        self.lock = runtime.add_handler(self.topic, self.handle)
        runtime.app.agent(runtime.faust_topics[self.topic], name=f"{runtime.app.conf.id}.audit-sink")(
            self._agent
        )
        runtime.committer.before_revoke_commit.append(self._before_revoke)

    async def start(self) -> None:
        await asyncio.to_thread(self.store.ensure_schema)

    async def _agent(self, stream: Any) -> None:
        async for event in stream.events():
            self.events += 1
            self.last_event_at = asyncio.get_running_loop().time()
            if self.runtime.faults.drop(event.message):
                continue
            async with self.lock:
                await self.runtime._guarded(self.handle(event.message))

    async def handle(self, msg: Any) -> None:
        if self.runtime.committer.stale(msg):  # delivered twice around a rebalance (commit.py)
            return
        if Origin(msg.topic, msg.partition, msg.offset) in self._unstored:
            return  # in a batch not stored yet (the committer may hand it back meanwhile)
        try:
            rows = self.runtime.codec.decode_rows(msg.value)
        except PoisonMessageError as exc:
            # to dlq, and handled: commits stop at the first offset not accounted for, so rows before it
            # that are not stored yet still hold the commit back
            await self.runtime.send_poison(msg, exc)
            return
        if not rows:  # nothing to store: handled now (a commit still stops at earlier unstored rows)
            self.runtime.committer.done(msg.topic, msg.partition, msg.offset)
            return
        origin = Origin(msg.topic, msg.partition, msg.offset)
        self._unstored.add(origin)
        await self.sink.put(rows, origin)

    def _stored(self, batch: CommittedBatch) -> None:
        if batch.topic is not None and batch.partition is not None:
            for offset in batch.offsets:
                self.runtime.committer.done(batch.topic, batch.partition, offset)
                self._unstored.discard(Origin(batch.topic, batch.partition, offset))

    async def flush(self) -> None:
        await self.sink.flush()

    async def _before_revoke(self) -> None:
        await self.flush()
        self.sink.forget_lanes()  # whoever gets a partition next may store rows this worker then replays

    async def close(self) -> None:
        await self.sink.close(timeout_s=30.0)
        await asyncio.to_thread(self.store.close)
