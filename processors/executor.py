"""Run one node on one envelope: the processor, its recovery policy, provenance and audit rows.

Both runtimes call exactly this, which is why they decide the same and audit the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from time import perf_counter_ns

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import FAIL, REJECT, ROUTE, Outcome, StepContext
from dana_workflows.processors.pipeline import DLQ, REJECTED, Edge, Node
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow


@dataclass(slots=True)
class StepResult:
    """Where an envelope goes after a step: a boundary, which is also a topic's name (docs/architecture.md).

    One word for the idea: a processor says what it decided (an OutcomeKind); the executor turns that into the
    boundary the envelope crosses next: the edge's boundary when it goes on, else REJECTED or DLQ.
    """

    boundary: str
    envelope: Envelope
    edge: Edge | None = None  # set exactly when the envelope goes on to a next step or a terminal branch
    rows: list[AuditRow] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    outcome: Outcome | None = None

    @property
    def forwarded(self) -> bool:
        return self.edge is not None


def _fresh(env: Envelope, attempt: int) -> Envelope:
    """A copy for one attempt, so a failed attempt leaves nothing behind."""
    return Envelope(
        env.event_id,
        env.run_id,
        env.workflow,
        env.workflow_version,
        env.step,
        dict(env.payload),
        env.produced_at,
        attempt,
        dict(env.provenance),
        env.chain_seq,
        env.chain_hash,
    )


async def execute(node: Node, env: Envelope, ctx: StepContext, *, owned: bool = False) -> StepResult:
    """owned=True: the caller hands over its only reference to `env` (the local runtime's freshly
    decoded envelope), so the first attempt runs on it without a copy (~1 µs a step). That relies on
    the processor contract (processors.base.Processor): a failing attempt leaves its envelope as it was."""
    outcome, took = await _attempt(node, env if owned else _fresh(env, 0), ctx)
    if outcome.kind is not FAIL:
        return _finish(node, outcome, took, [], ctx)
    return await _recover(node, env, ctx, outcome, took)


async def _attempt(node: Node, trial: Envelope, ctx: StepContext) -> tuple[Outcome, int]:
    started = perf_counter_ns()
    try:
        outcome = await node.processor.process(trial, ctx)
    except Exception as exc:  # a step that raises is retried per its policy, never crashes the run
        outcome = Outcome.fail(trial, f"{type(exc).__name__}: {exc}")
    return outcome, (perf_counter_ns() - started) // 1000


async def _recover(node: Node, env: Envelope, ctx: StepContext, outcome: Outcome, took: int) -> StepResult:
    """After a failed first attempt: retry per the node's policy, then default or dlq."""
    policy = node.retry
    rows: list[AuditRow] = []
    error = ""
    for attempt in range(policy.max_attempts):
        if attempt:
            outcome, took = await _attempt(node, _fresh(env, attempt), ctx)
            if outcome.kind is not FAIL:
                return _finish(node, outcome, took, rows, ctx)
        error = outcome.error or "failed"
        # the failed attempt is audited on the original chain (env), not the discarded copy
        if outcome.phases:
            _phase_rows(env, node.path, outcome, rows, ctx, attempt)
        rows.append(
            transition(
                env,
                "error",
                node.path,
                ctx.clock(),
                reason=error,
                attempt=attempt,
                duration_us=took,
                details=outcome.details,
            )
        )
        if attempt + 1 < policy.max_attempts and policy.backoff_ms:
            await asyncio.sleep(policy.backoff_ms * (2**attempt) / 1000)
    if policy.on_exhausted == "default" and policy.default is not None:
        out = _fresh(env, policy.max_attempts - 1)
        out.payload.update(policy.default)
        rows.append(
            transition(
                out,
                "defaulted",
                node.path,
                ctx.clock(),
                decision="default",
                reason=error,
                attempt=out.attempt,
                details={"default": policy.default},
            )
        )
        return _forward(node, out, node.emit or next(iter(node.branches.values())), rows)
    dead = env.evolve(
        step=node.path, attempt=policy.max_attempts - 1, provenance={**env.provenance, "error": error}
    )
    rows.append(
        transition(dead, "dlq", node.path, ctx.clock(), decision="dlq", reason=error, attempt=dead.attempt)
    )
    return StepResult(DLQ, dead, None, rows, error=error)


def _phase_rows(
    env: Envelope, step: str, outcome: Outcome, rows: list[AuditRow], ctx: StepContext, attempt: int
) -> None:
    """A step's timed phases (an llm step's perceive, operate, enforce), each its own row before the
    step's transition row."""
    for phase in outcome.phases:
        rows.append(
            transition(
                env,
                phase.name,
                step,
                ctx.clock(),
                decision=phase.decision,
                attempt=attempt,
                duration_us=phase.duration_us,
                details=phase.details,
            )
        )


def _finish(node: Node, outcome: Outcome, took: int, rows: list[AuditRow], ctx: StepContext) -> StepResult:
    env = outcome.envelope
    env.step = node.path
    kind = outcome.kind
    if outcome.phases:
        _phase_rows(env, node.path, outcome, rows, ctx, env.attempt)
    # The audit keeps every rule result of every step. The envelope carries the evidence of the last
    # step that had any: all its results when it rejected, only the failed (warn) ones when it passed,
    # so passing events do not drag every rule's record through each topic.
    rendered = "[]"
    warned = False
    if outcome.rule_results:
        records = [r.to_record() for r in outcome.rule_results]
        rendered = canonical_json(records)
        if kind is REJECT:
            env.provenance["rule_results"] = records
        else:
            failed = [r for r in records if not r["passed"]]
            env.provenance["rule_results"] = failed
            warned = bool(failed)
    if kind is REJECT:
        env.provenance["reasons"] = list(outcome.reasons)
        rows.append(
            transition(
                env,
                "rejected",
                node.path,
                ctx.clock(),
                decision="reject",
                reason="; ".join(outcome.reasons),
                rule_results_json=rendered,
                attempt=env.attempt,
                duration_us=took,
                details=outcome.details,
            )
        )
        return StepResult(REJECTED, env, None, rows, outcome.reasons, outcome=outcome)
    if kind is ROUTE:
        assert outcome.branch is not None
        edge = node.branches[outcome.branch]
        kind_name, decision = "routed", outcome.branch
    else:
        assert node.emit is not None
        edge = node.emit
        kind_name, decision = "emitted", "warn" if warned else "pass"
    rows.append(
        transition(
            env,
            kind_name,
            node.path,
            ctx.clock(),
            decision=decision,
            rule_results_json=rendered,
            attempt=env.attempt,
            duration_us=took,
            details=outcome.details,
        )
    )
    return _forward(node, env, edge, rows, outcome)


def _forward(
    node: Node, env: Envelope, edge: Edge, rows: list[AuditRow], outcome: Outcome | None = None
) -> StepResult:
    env.attempt = 0
    env.event_id = f"{env.run_id}/{edge.boundary}"
    if edge.node is None:
        rows.append(transition(env, "completed", edge.boundary, rows[-1].ts_us, decision=edge.boundary))
    return StepResult(edge.boundary, env, edge, rows, outcome=outcome)
