"""The step agents of a worker: each consumes one hop boundary's topic and runs the fused steps
that starts there.

A topic stays between two steps only where one is needed (docs/kafka-runtime.md, "Fusion"): the input,
and, with ``--per-step-topics``, every step's input (the per-step layout, one agent per step). Inside a
hop an envelope crosses each boundary as the local runtime crosses it (``processors/boundary.py``:
encoded with the boundary's schema and decoded again, a payload that does not fit goes to dlq), and runs
``processors.executor.execute``, the call the local runtime makes, so both decide and audit the same.

Records come in batches (``agent_loop.py``). Each record runs its hop's steps at once; then, per source
partition, one section sends the batch's audit rows (ahead of its outputs: one message under
at-least-once, the transaction's batch under exactly-once), its outcomes (the drift values of the events
it ends joined in one message, drift_agent.py), and registers its offsets.
Bytes that cannot be decoded go to ``dlq`` untouched, with headers naming where they came from and why.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any, cast

from faust.streams import _current_event

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.processors.audit_trail import rejected
from dana_workflows.processors.base import RuleResult, StepContext
from dana_workflows.processors.boundary import Boundaries, Misfit
from dana_workflows.processors.executor import StepResult, execute
from dana_workflows.processors.pipeline import DLQ, REJECTED, REVIEW, Node
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError, SpecChangedError
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.kafka.agent_loop import AgentStats, Batch, PartitionRevokedError
from dana_workflows.streams.kafka.context import AgentContext, Out
from dana_workflows.streams.kafka.extras import KafkaExtras, Send
from dana_workflows.streams.kafka.hops import hop_boundaries
from dana_workflows.streams.kafka.wire import source_headers

log = logging.getLogger(__name__)

Handled = tuple[Any, list[AuditRow], list[Out]]  # the record, its audit rows, its sends


class StepAgents:
    def __init__(self, ctx: AgentContext, extras: KafkaExtras) -> None:
        self.ctx = ctx
        self.extras = extras
        self.serde = EnvelopeSerde(ctx.topology.registry)
        self.boundaries = Boundaries(self.serde, ctx.topology.topics)
        pipeline = ctx.pipeline
        self.hops = hop_boundaries(pipeline, ctx.options.fuse, ctx.options.llm_hops)
        # a step writes a faust table (the LLM reply cache) only with llm steps: then each record runs
        # as faust's current event (see RecordEvent)
        self.tables = extras.llm is not None
        self.nodes = [node for node in pipeline.nodes.values() if node.input in self.hops]
        for node in self.nodes:
            self._add(node)

    def _add(self, node: Node) -> None:
        topic = self.ctx.topic(node.input)
        stats = self.ctx.agents.stats[node.path] = AgentStats(topic)
        step_ctx, now_us = self._step_context()

        async def handle(batch: Batch) -> None:
            await self.handle(node, step_ctx, now_us, batch)

        self.ctx.add_agent(self.ctx.raw_topic(topic), f"step_{node.path}", stats, handle, batched=True)

    def _step_context(self) -> tuple[StepContext, list[int]]:
        now_us = [0]
        clock = (lambda: now_us[0]) if self.ctx.deterministic else wall_clock_us
        # at-least-once: no durations (timed=False), so a redelivered record audits identical rows
        return StepContext(clock=clock, llm=self.extras.llm, timed=not self.ctx.deterministic), now_us

    # -- records -------------------------------------------------------------------------------------------
    async def handle(self, node: Node, ctx: StepContext, now_us: list[int], batch: Batch) -> None:
        committer = self.ctx.committer
        parts: dict[tuple[str, int], list[Handled]] = {}
        handled: Handled
        try:
            for msg in batch:
                if committer.stale(msg):  # delivered twice around a rebalance (commit.py)
                    continue
                try:
                    sid, env = self.serde.decode_as(msg.value, self.ctx.topology.schema_id(node.input))
                except SpecChangedError as exc:  # written under an older spec: decided under this one
                    handled = self._reject_unread(node, msg, exc)
                except PoisonMessageError as exc:
                    handled = (msg, [], [self.ctx.poison(msg, exc)])
                else:
                    key = env.run_id.encode()  # env is the hop's from here on (owned by its first step)
                    rows, sends = await self._run_hop(node, ctx, now_us, msg, sid, env)
                    handled = (msg, rows, [(t, key, v, h) for t, v, h in sends])
                parts.setdefault((msg.topic, msg.partition), []).append(handled)
        finally:
            self.extras.on_batch()  # the step metrics of the records handled, counted once per batch
        await self.commit_handled(parts)

    def _reject_unread(self, node: Node, msg: Any, exc: SpecChangedError) -> Handled:
        """An event written under an older spec that this spec's input cannot read (a field it now requires):
        rejected at the step it was waiting for, with one schema rule result per unmet field and the
        audit row a step's reject writes, so its run ends with an outcome (newcomer4 N4-1)."""
        env = exc.envelope
        step = node.path
        results = [
            RuleResult(f"schema.{name}", step, False, "reject", why, {name: None}) for name, why in exc.unmet
        ]
        now = env.produced_at if self.ctx.deterministic else wall_clock_us()  # as _step_context's clock
        row, _ = rejected(env, step, now, results)
        reason = row.reason
        log.warning(
            "record %s[%d]@%d (run %s) written under schema %s, rejected under this spec: %s",
            msg.topic, msg.partition, msg.offset, env.run_id, exc.schema_id, reason,
        )  # fmt: skip
        send = self._decision(REJECTED, reason, env, msg, exc.schema_id)
        return (msg, [row], [(send[0], env.run_id.encode(), send[1], send[2])])

    async def commit_handled(self, parts: dict[tuple[str, int], list[Handled]]) -> None:
        """Per source partition, one section: the audit rows ahead of the outcomes, then the offsets."""
        committer = self.ctx.committer
        for (topic, partition), items in parts.items():
            try:
                outs = self.extras.batched(topic, partition, [o for _, _, outs in items for o in outs])
                async with committer.section(topic, partition) as section:
                    await section.audit([row for _, rows, _ in items for row in rows])
                    for topic_out, key_out, value, headers in outs:
                        await section.send(topic_out, key_out, value, headers)
                    for msg, _, _ in items:
                        section.done(msg.offset)
            except PartitionRevokedError as exc:  # the batch's other partitions go on
                log.info("%s", exc)

    async def _run_hop(
        self, node: Node, ctx: StepContext, now_us: list[int], msg: Any, sid: int, env: Envelope
    ) -> tuple[list[AuditRow], list[Send]]:
        """``_hop``, as faust's current event where a step writes a table: every caller (the step agents,
        the committer's hand-backs through them, the resume agent) runs a record's hop through here."""
        if not self.tables:
            return await self._hop(node, ctx, now_us, msg, sid, env)
        event = RecordEvent(msg)  # held here: the context keeps only a weak reference
        _current_event.set(weakref.ref(cast(Any, event)))  # read as .message only
        try:
            return await self._hop(node, ctx, now_us, msg, sid, env)
        finally:
            _current_event.set(None)

    async def _hop(
        self, node: Node, ctx: StepContext, now_us: list[int], msg: Any, sid: int, env: Envelope
    ) -> tuple[list[AuditRow], list[Send]]:
        """One envelope, step after step, until it reaches a topic (a hop boundary, a terminal, rejected
        or dlq): its audit rows and its one outcome."""
        journey = self.extras.journey(node, env, msg)
        rows: list[AuditRow] = []
        while True:
            now_us[0] = env.produced_at
            started = time.perf_counter()
            # owned: env is fresh, from the record's decode (handle) or a boundary's copy (the resume
            # agent's, or the one below), and nothing reads it after this step, so the first attempt runs
            # on it, without the executor's copy (~23k instructions a record of ~708k, docs/performance.md)
            result = await execute(node, env, ctx, owned=True)
            seconds = time.perf_counter() - started
            rows.extend(result.rows)
            edge = result.edge
            if edge is not None and edge.node is not None and edge.boundary not in self.hops:
                crossed = self.boundaries.roundtrip(result.envelope, edge.boundary, ctx.clock)
                if not isinstance(crossed, Misfit):  # fused: the next step runs here
                    self.extras.on_step(node, result, [], seconds, journey)
                    env, node = crossed, self.ctx.pipeline.nodes[edge.node]
                    continue
                rows.append(crossed.row)
                sends = [self._decision(DLQ, crossed.reason, result.envelope, msg, sid)]
            else:
                sends = self._outcome(result, rows, ctx, msg, sid)
            self.extras.on_step(node, result, sends, seconds, journey)
            self.extras.on_end(journey, result, sends, msg)
            return rows, sends

    def _outcome(
        self, result: StepResult, rows: list[AuditRow], ctx: StepContext, msg: Any, sid: int
    ) -> list[Send]:
        """The hop's one send: the envelope on its next topic, or a decision on rejected/review/dlq."""
        env = result.envelope
        if result.edge is not None:
            encoded = self.boundaries.encode(env, result.edge.boundary, ctx.clock)
            if not isinstance(encoded, Misfit):
                return [(self.ctx.topic(result.edge.boundary), encoded, None)]
            rows.append(encoded.row)
            return [self._decision(DLQ, encoded.reason, env, msg, sid)]
        if result.boundary == REJECTED:
            return [self._decision(REJECTED, "; ".join(result.reasons), env, msg, sid)]
        if result.boundary == REVIEW:  # a recovery ladder's review rung (docs/recovery.md)
            return [self._decision(REVIEW, result.error or "review", env, msg, sid)]
        return [self._decision(DLQ, result.error or "failed", env, msg, sid)]

    def _decision(self, boundary: str, error: str, env: Envelope, msg: Any, sid: int) -> Send:
        headers = source_headers("decision", msg.topic, msg.partition, msg.offset, error, sid)
        return (self.ctx.topic(boundary), self.ctx.codec.encode_mixed(env), headers)


class RecordEvent:
    """faust's current event while a record runs its hop: a faust table written there (the LLM reply
    cache) sends the change to the changelog partition of ``message``, the record's partition (faust's
    ``_send_changelog`` reads ``event.message.partition``; with no current event it refuses the write).
    faust's stream sets one for each record it delivers; records from the intake (intake.py), records
    handed back by the committer and the resume agent's records come without one (``_run_hop`` sets it)."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message
