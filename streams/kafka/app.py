"""A workflow's Kafka worker: the faust app, the committer, and the parts that run in it.

``KafkaRuntime`` builds them and hands each part a narrow ``AgentContext`` (context.py), never itself:
the step agents (steps.py: fused chains of steps, batched), the audit sink (audit_agent.py), drift, LLM
wiring and metrics (extras.py), the stall watchdog (watchdog.py). Offsets are committed by
``commit.Committer`` (not by faust's acks), see there why. ``worker.py`` runs it; docs/kafka-runtime.md
says what it guarantees.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import faust

from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.streams.kafka.agent_loop import AgentRegistry, AgentStats, WorkerState
from dana_workflows.streams.kafka.audit_agent import AuditSinkAgent
from dana_workflows.streams.kafka.broker_view import BrokerView
from dana_workflows.streams.kafka.commit import Committer
from dana_workflows.streams.kafka.context import AgentContext
from dana_workflows.streams.kafka.extras import KafkaExtras
from dana_workflows.streams.kafka.fetch_divert import use_diverting_consumer, use_intake
from dana_workflows.streams.kafka.intake import Intake
from dana_workflows.streams.kafka.lean_wait import install as install_lean_wait
from dana_workflows.streams.kafka.options import AT_LEAST_ONCE, EXACTLY_ONCE, KafkaOptions, all_topics
from dana_workflows.streams.kafka.partitioner import PARTITIONER
from dana_workflows.streams.kafka.resume_agent import ResumeAgent
from dana_workflows.streams.kafka.steps import StepAgents
from dana_workflows.streams.kafka.watchdog import StallWatchdog
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology

__all__ = ["AT_LEAST_ONCE", "EXACTLY_ONCE", "KafkaOptions", "KafkaRuntime", "all_topics"]

log = logging.getLogger(__name__)

# How long the broker may hold a fetch of the group consumer that finds no new record. faust builds that
# consumer with 1,500 ms (hard-coded, no setting). aiokafka has one fetch in flight per broker and leaves
# out a partition whose fetched records are still being handed over, so while an agent works through a
# fetched chunk the next fetch carries only the idle partitions (resume, drift-values, changelogs) and the
# broker holds it for the whole wait: the busy partition's next fetch, and every ListOffsets on that
# connection (the committer's start offsets at a revocation, faust's recovery highwaters, the watchdog),
# queue behind it. A worker with one input partition, as each of two workers on two partitions has,
# stalled up to 1.5 s per chunk, and a rebalance took ~3 s (docs/performance.md, session 10). An idle
# worker pays one empty fetch per wait instead: 10 requests/s.
FETCH_MAX_WAIT_MS = 100


class KafkaRuntime:
    """The faust app of one workflow, and the pieces around it (committer, agents, watchdog)."""

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
        self.app = self._make_app()
        # the step agents' records below faust's per-record delivery (intake.py, fetch_divert.py)
        self.intake = Intake() if options.intake else None
        if self.intake is not None:
            use_intake(self.app, self.intake, lambda keys: self.broker_view.starts(keys))
        else:  # faust delivers every record, through the consumer that fixes its fetch (fetch_divert.py)
            use_diverting_consumer(self.app)
        self.state = WorkerState()
        agents = AgentRegistry(self.state, crash=self.app.crash)
        self.broker_view = BrokerView(
            self.app, options.bootstrap, read_committed=options.exactly_once, security=options.security
        )
        codec = WireCodec(topology.registry)
        self.committer = Committer(
            self.app,
            options.exactly_once,
            options.commit_interval_s,
            view=self.broker_view,
            agents=agents,
            codec=codec,
            audit_topic=topology.audit_topic,
        )
        self.context = AgentContext(
            self.app,
            options,
            pipeline,
            topology,
            codec,
            self.committer,
            agents,
            self.state,
            intake=self.intake,
        )
        # LLM client + cache table, drift tap + agent, metrics (extras.py)
        self.extras = KafkaExtras(self.context)
        self.steps = StepAgents(self.context, self.extras)
        self.resume = ResumeAgent(self.context, self.steps)  # reviewed and replayed events (docs/review.md)
        self.audit = AuditSinkAgent(self.context, audit_store) if audit_store is not None else None
        self.watchdog = StallWatchdog(self.context, options.stall_s)
        self.extras.metrics.attach(self.audit, self.watchdog)
        self.app.task(self._commit_loop)
        self.app.task(self.watchdog.run)

    @property
    def stats(self) -> dict[str, AgentStats]:
        """Progress per agent (the step chains by their first step's path, drift as ``<drift>``)."""
        return self.context.agents.stats

    @property
    def crashed(self) -> BaseException | None:
        return self.state.crashed

    @property
    def draining(self) -> bool:
        return self.state.draining

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
            # Kafka's partition of a key with the C murmur2 (partitioner.py): the partitions aiokafka's
            # default picks, as batch_send and `dana-wf produce` pick them
            producer_partitioner=PARTITIONER,
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

    # -- lifecycle -----------------------------------------------------------------------------------------
    def prepare_consumer(self) -> None:
        """The group consumer's fetch wait and lean delivery (below). Call after ``app.in_worker`` is set
        and before ``app.start()``: this builds faust's consumer, which reads ``in_transaction``
        (exactly-once, read_committed) once, when it is built."""
        self.bound_fetch_wait()
        self.lean_delivery()

    def bound_fetch_wait(self, wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
        """Give the group consumer faust is about to start a fetch wait of ``wait_ms`` (see
        FETCH_MAX_WAIT_MS); aiokafka reads it when its consumer starts (see ``prepare_consumer``)."""
        consumer: Any = self.app.consumer  # faust's aiokafka Consumer (ConsumerT has no _thread)
        thread = consumer._thread
        create = thread._create_worker_consumer

        def create_bounded(transport: Any) -> Any:
            consumer = create(transport)
            consumer._fetch_max_wait_ms = wait_ms  # what AIOKafkaConsumer(fetch_max_wait_ms=...) sets
            return consumer

        thread._create_worker_consumer = create_bounded

    def lean_delivery(self) -> None:
        """faust's fetcher hands records over through ``lean_wait_first`` (lean_wait.py: one task a
        record instead of four)."""
        install_lean_wait(self.app.consumer)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.commit_interval_s)
            if self.state.crashed is None:
                await self.committer.commit()

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Stop taking records, finish the ones in hand, store the audit, commit. Then stop the app."""
        self.state.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.state.idle() and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await self._revocations_done(deadline)
        if self.audit is not None:
            await self.audit.flush()
        if self.state.crashed is None:
            # the group's next owner starts after these; a gap is not healed any more (see commit.py)
            await self.committer.commit(stable=True, revoking=True)
        await self._revocations_done(deadline)  # one that began during the commit above
        log.info("drained: %s", self.committer.summary())

    async def _revocations_done(self, deadline: float) -> None:
        """A revocation under way commits through the consumer thread: the app's stop, which follows the
        drain, must not stop that thread under it (faust's stop then waited 60 s for the thread,
        docs/kafka-runtime.md, "Stopping during a rebalance")."""
        left = max(0.0, deadline - asyncio.get_running_loop().time())
        if not await self.committer.revocations_done(left):
            log.warning("a revocation was still under way when the drain's time was up")
