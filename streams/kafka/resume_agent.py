"""The worker's agent on the workflow's ``resume`` topic: reviewed and replayed events re-enter here.

Fused, the steps in the middle of a workflow have no topics, so a resumed event cannot be put "on the
topic of step 3". It goes to one topic per workflow, ``dwf.<workflow>.resume`` (mixed schemas, like dlq),
with a mark in its provenance (``processors.resume.RESUME_MARK``) that names the boundary it re-enters at
and carries the audit row that says why (``override`` or ``replayed``), already chained to the event's
tail. This agent pops the mark, crosses that boundary as every hand-off is crossed, and runs the fused
steps from the boundary's consumer with ``StepAgents._run_hop``: the same code, the same committed
sections (audit rows ahead of outcomes, offsets last), so the worker's guarantees hold for resumed events
too. The mark's row is stored in the same section as the journey it starts: one message, one unit.
"""

from __future__ import annotations

from typing import Any

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.boundary import Misfit
from dana_workflows.processors.pipeline import DLQ, RESUME
from dana_workflows.processors.resume import RESUME_MARK, ResumeError, point_at
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.audit_model import AuditRow, row_digest
from dana_workflows.streams.kafka.agent_loop import AgentStats, Batch
from dana_workflows.streams.kafka.context import AgentContext
from dana_workflows.streams.kafka.extras import Send
from dana_workflows.streams.kafka.steps import Handled, StepAgents

RESUME_AGENT = "<resume>"  # its stats' name (no step is called that)


class ResumeAgent:
    def __init__(self, ctx: AgentContext, steps: StepAgents) -> None:
        self.ctx = ctx
        self.steps = steps
        self.step_ctx, self.now_us = steps._step_context()
        topic = ctx.topology.resume_topic
        stats = ctx.agents.stats[RESUME_AGENT] = AgentStats(topic)
        ctx.add_agent(ctx.raw_topic(topic), "resume", stats, self.handle)

    async def handle(self, batch: Batch) -> None:
        parts: dict[tuple[str, int], list[Handled]] = {}
        for msg in batch:
            if self.ctx.committer.stale(msg):
                continue
            try:
                env = self.ctx.codec.decode_mixed(msg.value)
            except PoisonMessageError as exc:
                handled: Handled = (msg, [], [self.ctx.poison(msg, exc)])
            else:
                rows, sends = await self._resume(env, msg)
                key = env.run_id.encode()
                handled = (msg, rows, [(t, key, v, h) for t, v, h in sends])
            parts.setdefault((msg.topic, msg.partition), []).append(handled)
        await self.steps.commit_handled(parts)

    async def _resume(self, env: Envelope, msg: Any) -> tuple[list[AuditRow], list[Send]]:
        sid = self.ctx.codec.mixed_sid
        mark = env.provenance.pop(RESUME_MARK, None)
        try:
            boundary, first = _read_mark(mark, env)
            point = point_at(self.ctx.pipeline, boundary)
        except ResumeError as exc:
            reason = f"resume record: {exc}"
            env.provenance["error"] = reason
            row = transition(env, DLQ, RESUME, env.produced_at, decision=DLQ, reason=reason)
            return [row], [self.steps._decision(DLQ, reason, env, msg, sid)]
        self.now_us[0] = env.produced_at
        env.event_id = f"{env.run_id}/{boundary}"
        rows = [first]
        crossed = self.steps.boundaries.roundtrip(env, boundary, self.step_ctx.clock)
        if isinstance(crossed, Misfit):
            rows.append(crossed.row)
            return rows, [self.steps._decision(DLQ, crossed.reason, env, msg, sid)]
        if point.node is None:  # the decision completes the event at a terminal output
            rows.append(transition(crossed, "completed", boundary, self.step_ctx.clock(), decision=boundary))
            encoded = self.steps.boundaries.encode(crossed, boundary, self.step_ctx.clock)
            assert not isinstance(encoded, Misfit)  # it has just crossed this boundary
            return rows, [(self.ctx.topic(boundary), encoded, None)]
        node = self.ctx.pipeline.nodes[point.node]
        hop_rows, sends = await self.steps._run_hop(node, self.step_ctx, self.now_us, msg, sid, crossed)
        return rows + hop_rows, sends


def _read_mark(mark: Any, env: Envelope) -> tuple[str, AuditRow]:
    """The boundary and the first row a resume mark carries, checked against the envelope's chain."""
    if not isinstance(mark, dict) or not isinstance(mark.get("boundary"), str):
        raise ResumeError("no resume mark naming a boundary (send resumed events with dana-wf)")
    try:
        row = AuditRow.from_mapping(mark["row"])
    except (KeyError, TypeError) as exc:
        raise ResumeError(f"its audit row is incomplete ({exc})") from None
    if row.hash != row_digest(row) or row.hash != env.chain_hash or row.run_id != env.run_id:
        raise ResumeError("its audit row does not match the event's chain")
    return str(mark["boundary"]), row
