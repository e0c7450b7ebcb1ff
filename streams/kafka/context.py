"""What the parts of a worker (fused steps, audit sink, drift, LLM wiring, metrics, watchdog) get from it:
a narrow context, not the worker itself.

The worker (``app.py``) builds the faust app, the committer and this context, then hands the context to
each part; no part imports the worker, so the worker's modules import downwards only. Hooks that a part
offers others (``on_poison`` here, ``AuditSinkAgent.on_stored``, ``Committer.before_revoke_commit``) are
lists declared by their owner, registered at construction, never callbacks patched in afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust

from dana_workflows.processors.pipeline import DLQ, Pipeline
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.streams.kafka.agent_loop import AgentRegistry, AgentStats, Handler, WorkerState
from dana_workflows.streams.kafka.commit import Committer
from dana_workflows.streams.kafka.faults import DroppedRecords
from dana_workflows.streams.kafka.intake import Intake
from dana_workflows.streams.kafka.options import KafkaOptions
from dana_workflows.streams.kafka.wire import WireCodec, source_headers
from dana_workflows.streams.topology import Topology

log = logging.getLogger(__name__)

Out = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]  # topic, key, value, headers


class RawSchema(faust.Schema[bytes, bytes]):
    """A raw topic's records as fetched: the event's key and value are the record's bytes.

    faust's own decode of a raw topic looks up the serializer, runs the raw codec and prepares the payload
    for the key and for the value of every record, and gives back the same bytes (``want_bytes``): ~4% of
    a worker's samples in a py-spy (docs/performance.md). The agents read ``event.message`` only."""

    def compile(self, app: Any, **kwargs: Any) -> Callable[..., Awaitable[Any]]:
        create_event = app.create_event

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return create_event(message.key, message.value, message.headers, message)

        return decode


@dataclass
class AgentContext:
    app: Any  # the faust App
    options: KafkaOptions
    pipeline: Pipeline
    topology: Topology
    codec: WireCodec
    committer: Committer
    agents: AgentRegistry
    state: WorkerState
    faults: DroppedRecords = field(default_factory=DroppedRecords)  # test-only: DWF_FAULT_DROP_RECORDS
    on_poison: list[Callable[[Any], None]] = field(default_factory=list)  # e.g. a metric per poison record
    intake: Intake | None = None  # the step agents' records below faust's delivery (intake.py), if on

    @property
    def exactly_once(self) -> bool:
        return self.options.exactly_once

    @property
    def deterministic(self) -> bool:
        """at-least-once redelivers: rows must come out byte-identical the second time (same hash), so
        the clock is the event's admission time and durations are not recorded (docs/kafka-runtime.md)."""
        return not self.options.exactly_once

    @property
    def workflow(self) -> str:
        return self.pipeline.workflow.name

    def topic(self, boundary: str) -> str:
        return self.topology.topic(boundary)

    def raw_topic(self, name: str, partitions: int | None = None) -> Any:
        """A faust topic of raw bytes whose offsets the committer commits (faust's acks are off)."""
        return self.app.topic(
            name,
            schema=RawSchema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
            partitions=partitions or self.options.partitions,
            replicas=self.options.replication,
            acks=False,
        )

    def add_agent(
        self,
        channel: Any,
        name: str,
        stats: AgentStats,
        handle: Handler,
        *,
        track_offsets: bool = True,
        batched: bool = False,
    ) -> None:
        """A faust agent on ``channel`` that hands batches of records to ``handle`` (agent_loop.py); the
        committer hands a record faust dropped to the same ``handle``, under the same lock. ``batched``
        (the step agents, when the worker has an intake): its records come from the intake (intake.py),
        a fetched list at a time; the agent still iterates faust's stream, which subscribes the topic and
        gets nothing."""
        lock = self.agents.add(stats.topic, handle)
        intake = self.intake if batched else None
        if intake is not None:
            intake.add_topic(stats.topic)

        async def agent(stream: Any) -> None:
            loops = [
                self.agents.consume(
                    stream,
                    stats,
                    lock,
                    handle,
                    drop=self.faults.drop,
                    track_offsets=track_offsets,
                    max_batch=self.options.max_batch,
                )
            ]
            if intake is not None:
                loops.append(
                    self.agents.consume_intake(
                        intake, stats, lock, handle, drop=self.faults.drop, max_batch=self.options.max_batch
                    )
                )
            tasks = [asyncio.ensure_future(loop) for loop in loops]
            try:
                await asyncio.gather(*tasks)  # an error in either ends the agent, as faust's own would
            finally:
                for task in tasks:
                    task.cancel()

        agent.__name__ = name.replace(".", "_").replace("-", "_")
        self.app.agent(channel, name=f"{self.app.conf.id}.{name}")(agent)

    def poison(self, msg: Any, exc: PoisonMessageError) -> Out:
        """Bytes that are not a record of the topic's schema: to dlq unchanged, with where and why."""
        log.warning("poison record %s[%d]@%d to dlq: %s", msg.topic, msg.partition, msg.offset, exc.reason)
        for hook in self.on_poison:
            hook(msg)
        headers = source_headers("poison", msg.topic, msg.partition, msg.offset, exc.reason, exc.schema_id)
        return (self.topic(DLQ), msg.key, exc.raw, headers)

    async def send_poison(self, msg: Any, exc: PoisonMessageError) -> None:
        topic, key, value, headers = self.poison(msg, exc)
        async with self.committer.section(msg.topic, msg.partition) as section:
            await section.send(topic, key, value, headers)
            section.done(msg.offset)
