"""Compile a Pipeline + Topology into a faust app: one agent per node, Avro wire format on every topic.

Each agent consumes its node's input boundary (`dwf.<wf>.<boundary>`), decodes the envelope with the
boundary's schema, runs ``processors.executor.execute`` (the same call the local runtime makes), and
produces the outcome to the next boundary, `rejected`, `dlq` or a branch topic, plus its audit rows to
`dwf.audit`. Bytes that cannot be decoded (not Avro, unknown schema id) go to `dlq` untouched, with
headers naming the source topic, partition, offset, error and schema id; the agent goes on consuming.

Offsets are committed by ``commit.Committer`` (not by faust's acks), see there why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import Settings
from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.executor import StepResult, execute
from dana_workflows.processors.pipeline import DLQ, REJECTED, Node, Pipeline
from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.sinks.audit_model import AuditRow, AuditStore, seal
from dana_workflows.streams.kafka.commit import Committer, PartitionRevokedError
from dana_workflows.streams.kafka.security import KafkaSecurity
from dana_workflows.streams.kafka.wire import WireCodec, source_headers
from dana_workflows.streams.topology import Topology

log = logging.getLogger(__name__)

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"


@dataclass
class KafkaOptions:
    """What a worker needs beyond the spec; defaults from Settings, overridable per command."""

    bootstrap: str
    guarantee: str = AT_LEAST_ONCE
    partitions: int = 4
    replication: int = 1
    prefix: str = "dwf"
    data_dir: Path = Path(".dwf")
    group_id: str | None = None  # consumer group (faust app id); default `<prefix>-<workflow>`
    session_timeout_s: float = 10.0  # how long the group waits for a dead worker before rebalancing
    heartbeat_s: float = 1.0
    commit_interval_s: float = 1.0
    stall_s: float = 60.0  # the watchdog's threshold
    metrics_port: int | None = None  # /metrics, /healthz, /readyz; 0 = a free port; None = none
    audit_batch_size: int = 20_000
    audit_interval_s: float = 1.0
    audit_buffer_max: int = 100_000
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # TLS/SASL of every client (security.py)

    def __post_init__(self) -> None:
        if self.guarantee not in (AT_LEAST_ONCE, EXACTLY_ONCE):
            raise ValueError(f"processing guarantee {self.guarantee!r}: use at_least_once or exactly_once")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> KafkaOptions:
        base: dict[str, Any] = {
            "bootstrap": settings.kafka_bootstrap_servers,
            "guarantee": settings.processing_guarantee,
            "partitions": settings.topic_partitions,
            "replication": settings.topic_replication,
            "prefix": settings.topic_prefix,
            "data_dir": settings.data_dir,
            "audit_batch_size": settings.audit_batch_size,
            "audit_interval_s": settings.audit_batch_interval_s,
            "audit_buffer_max": settings.audit_buffer_max,
            "metrics_port": settings.metrics_port,
            "security": KafkaSecurity.from_settings(settings),
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def app_id(self, workflow: str) -> str:
        return self.group_id or f"{self.prefix}-{workflow}"


@dataclass
class AgentStats:
    """What the watchdog reads: progress per agent."""

    topic: str
    events: int = 0
    last_event_at: float = 0.0  # loop time of the last record taken
    last_offsets: dict[int, int] = field(default_factory=dict)  # partition -> last offset handled


def all_topics(topology: Topology) -> list[str]:
    return [spec.topic for spec in topology.topics.values()] + [topology.audit_topic]


class KafkaRuntime:
    """The faust app of one workflow, and the pieces around it (committer, audit sink, watchdog)."""

    def __init__(
        self,
        pipeline: Pipeline,
        topology: Topology,
        options: KafkaOptions,
        audit_store: AuditStore | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.topology = topology
        self.options = options
        self.serde = EnvelopeSerde(topology.registry)
        self.codec = WireCodec(topology.registry)
        self.exactly_once = options.guarantee == EXACTLY_ONCE
        # at-least-once redelivers: rows must come out byte-identical the second time (same hash), so the
        # clock is the event's admission time and durations are not recorded; see docs/kafka-runtime.md
        self.deterministic = not self.exactly_once
        self.app = self._make_app()
        from dana_workflows.streams.kafka.broker_view import BrokerView

        self.broker_view = BrokerView(
            self.app, options.bootstrap, read_committed=self.exactly_once, security=options.security
        )
        self.committer = Committer(
            self.app,
            self.exactly_once,
            options.commit_interval_s,
            view=self.broker_view,
            codec=self.codec,
            audit_topic=topology.audit_topic,
            idle=lambda: self.inflight == 0,
        )
        self.faust_topics: dict[str, Any] = {
            t: self.app.topic(
                t,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=options.partitions,
                replicas=options.replication,
                acks=False,
            )
            for t in all_topics(topology)
        }
        self.stats: dict[str, AgentStats] = {}
        # per source topic: how its agent handles a record, and the lock that keeps a record the committer
        # hands back (one faust dropped, commit.py) from running beside the agent's own
        self.handlers: dict[str, tuple[Callable[[Any], Awaitable[None]], asyncio.Lock]] = {}
        self.committer.redeliver = self.redeliver
        self.committer.taken = self.taken
        from dana_workflows.streams.kafka.faults import DroppedRecords

        self.faults = DroppedRecords()  # test-only: DWF_FAULT_DROP_RECORDS
        self.inflight = 0
        self.draining = False
        self.crashed: BaseException | None = None
        from dana_workflows.streams.kafka.extras import KafkaExtras

        # LLM client + cache table, drift tap + agent, metrics (streams/kafka/extras.py)
        self.extras = KafkaExtras(self)
        for node in pipeline.nodes.values():
            self._add_agent(node)
        self.audit = None
        if audit_store is not None:
            from dana_workflows.streams.kafka.audit_agent import AuditSinkAgent

            self.audit = AuditSinkAgent(self, audit_store)
        from dana_workflows.streams.kafka.watchdog import StallWatchdog

        self.watchdog = StallWatchdog(self, options.stall_s)
        self.app.task(self._commit_loop)
        self.app.task(self.watchdog.run)

    # -- construction --------------------------------------------------------------------------------------
    def _make_app(self) -> faust.App:
        o = self.options
        data = Path(o.data_dir) / "faust" / o.app_id(self.pipeline.workflow.name)
        data.mkdir(parents=True, exist_ok=True)
        return faust.App(
            o.app_id(self.pipeline.workflow.name),
            broker=[f"kafka://{b.strip()}" for b in o.bootstrap.split(",")],
            broker_credentials=o.security.faust_credentials(),  # None for PLAINTEXT
            processing_guarantee=o.guarantee,
            web_enabled=False,
            datadir=str(data),
            topic_partitions=o.partitions,
            topic_replication_factor=o.replication,
            broker_session_timeout=o.session_timeout_s,
            broker_heartbeat_interval=o.heartbeat_s,
            broker_rebalance_timeout=max(o.session_timeout_s, 10.0),
            broker_commit_interval=3600.0,  # faust's ack commits are off (topics have acks=False)
            stream_wait_empty=False,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            # throughput: sends are batched per partition for up to 5 ms (one request instead of one per
            # record), and a fetch may bring 4 MB per partition (docs/kafka-runtime.md, "Throughput")
            producer_linger=0.005,
            producer_max_batch_size=256 * 1024,
            # the topics' max.message.bytes too (admin.ensure_topics): a record they take is sent
            producer_max_request_size=MAX_MESSAGE_BYTES,
            consumer_max_fetch_size=4 * 1024 * 1024,
            key_serializer="raw",
            value_serializer="raw",
            autodiscover=False,
        )

    def topic(self, boundary: str) -> str:
        return self.topology.topic(boundary)

    def _step_context(self) -> tuple[StepContext, list[int]]:
        now_us = [0]
        clock = (lambda: now_us[0]) if self.deterministic else wall_clock_us
        return StepContext(clock=clock, llm=self.extras.llm), now_us

    def add_handler(self, topic: str, handle: Callable[[Any], Awaitable[None]]) -> asyncio.Lock:
        lock = asyncio.Lock()
        self.handlers[topic] = (handle, lock)
        return lock

    def taken(self, topic: str) -> int:
        """Records the agent(s) of ``topic`` have taken from faust so far."""
        n = sum(s.events for s in self.stats.values() if s.topic == topic)
        if self.audit is not None and topic == self.audit.topic:
            n += self.audit.events
        return n

    async def redeliver(self, record: Any) -> None:
        """Handle a record the committer found dropped by faust, as the topic's agent would."""
        handle, lock = self.handlers[record.topic]
        async with lock:
            await self._guarded(handle(record))

    def _add_agent(self, node: Node) -> None:
        topic = self.topic(node.input)
        stats = self.stats[node.path] = AgentStats(topic)
        ctx, now_us = self._step_context()
        redo_ctx, redo_now_us = self._step_context()  # its clock is separate from the agent's
        lock = self.add_handler(topic, lambda msg: self.handle(node, redo_ctx, redo_now_us, msg))

        async def agent(stream: Any) -> None:
            async for event in stream.events():
                stats.events += 1
                stats.last_event_at = asyncio.get_running_loop().time()
                if self.faults.drop(event.message):
                    continue
                async with lock:
                    await self._guarded(self.handle(node, ctx, now_us, event.message))
                stats.last_offsets[event.message.partition] = event.message.offset

        agent.__name__ = f"step_{node.path.replace('.', '_')}"
        self.app.agent(self.faust_topics[topic], name=f"{self.app.conf.id}.{node.path}")(agent)

    async def _guarded(self, work: Any) -> None:
        """Run one record's handling; a bug or a broken transaction stops the worker (nothing is committed
        past a record that was not fully handled), a revoked partition just leaves the record behind."""
        if self.draining or self.crashed is not None:
            work.close()
            return
        self.inflight += 1
        try:
            await work
        except PartitionRevokedError as exc:
            log.info("%s", exc)
        except Exception as exc:
            self.crashed = exc
            self.committer.broken = exc
            log.exception("record handling failed; stopping the worker without committing it")
            await self.app.crash(exc)
        finally:
            self.inflight -= 1

    # -- one record ----------------------------------------------------------------------------------------
    async def handle(self, node: Node, ctx: StepContext, now_us: list[int], msg: Any) -> None:
        if self.committer.stale(msg):  # delivered twice around a rebalance (commit.py)
            return
        try:
            sid, env = self.serde.decode_as(msg.value, self.topology.schema_id(node.input))
        except PoisonMessageError as exc:
            await self.send_poison(msg, exc)
            return
        now_us[0] = env.produced_at
        prev_hash = env.chain_hash
        started = time.perf_counter()
        result = await execute(node, env, ctx)
        sends = self._outcome(result, prev_hash, ctx, msg, sid)
        self.extras.on_outcome(node, env, msg, result, sends, time.perf_counter() - started)
        async with self.committer.section(msg.topic, msg.partition) as section:
            await section.audit(result.rows)  # ahead of the outputs; batched under exactly-once (commit.py)
            for topic, value, headers in sends:
                await section.send(topic, result.envelope.run_id.encode(), value, headers)
            section.done(msg.offset)

    async def send_poison(self, msg: Any, exc: PoisonMessageError, register: bool = True) -> None:
        log.warning("poison record %s[%d]@%d to dlq: %s", msg.topic, msg.partition, msg.offset, exc.reason)
        self.extras.on_poison(msg)
        headers = source_headers("poison", msg.topic, msg.partition, msg.offset, exc.reason, exc.schema_id)
        async with self.committer.section(msg.topic, msg.partition) as section:
            await section.send(self.topic(DLQ), msg.key, exc.raw, headers)
            if register:
                section.done(msg.offset)

    def _outcome(
        self, result: StepResult, prev_hash: str, ctx: StepContext, msg: Any, sid: int
    ) -> list[tuple[str, bytes, list[tuple[str, bytes]] | None]]:
        env, rows = result.envelope, result.rows
        if self.deterministic:
            env.chain_hash = _reseal(rows, prev_hash)
        sends: list[tuple[str, bytes, list[tuple[str, bytes]] | None]] = []

        def decision(boundary: str, error: str) -> None:
            headers = source_headers("decision", msg.topic, msg.partition, msg.offset, error, sid)
            sends.append((self.topic(boundary), self.codec.encode_mixed(env), headers))

        if result.forwarded:
            assert result.edge is not None
            boundary = result.edge.boundary
            try:
                sends.append(
                    (self.topic(boundary), self.serde.encode(env, self.topology.schema_id(boundary)), None)
                )
            except (
                TypeError,
                ValueError,
                KeyError,
            ) as exc:  # the same check, same words as the local runtime
                reason = f"payload does not fit the Avro schema of '{self.topic(boundary)}': {exc}"
                env.provenance["error"] = reason
                rows.append(transition(env, "dlq", boundary, ctx.clock(), decision="dlq", reason=reason))
                decision(DLQ, reason)
        elif result.boundary == REJECTED:
            decision(REJECTED, "; ".join(result.reasons))
        else:
            decision(DLQ, result.error or "failed")
        return sends

    def audit_sends(self, rows: list[AuditRow]) -> list[tuple[str, bytes, list[tuple[str, bytes]] | None]]:
        return [(self.topology.audit_topic, self.codec.encode_row(r), None) for r in rows]

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.commit_interval_s)
            if self.crashed is None:
                await self.committer.commit()

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Stop taking records, finish the ones in hand, store the audit, commit. Then stop the app."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.inflight and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self.audit is not None:
            await self.audit.flush()
        if self.crashed is None:
            # the group's next owner starts after these; a gap is not healed any more (see commit.py)
            await self.committer.commit(stable=True, revoking=True)
        log.info("drained: %s", self.committer.summary())


def _reseal(rows: list[AuditRow], prev_hash: str) -> str:
    for row in rows:
        row.duration_us = 0
        seal(row, prev_hash)
        prev_hash = row.hash
    return prev_hash
