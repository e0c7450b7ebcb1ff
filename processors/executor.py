"""Run one node on one envelope: the processor, its recovery ladder, provenance and audit rows.

Both runtimes call exactly this, which is why they decide the same and audit the same.

Hand-written fast paths, each measured on the claims example as instructions per event (callgrind, 500
events; docs/performance.md, "Session 10: shared processing"): the first attempt runs inline in `execute`
instead of in the `_attempt` coroutine (-4.9k of 742k), and `_finish` rendered rule results in one loop
instead of two comprehensions (-3.8k; replaced in session 19, below); `_forward` builds its StepResult
positionally, with no keyword and no default factory (-4.8k of 678k, bench/local_throughput.py --shared
--warmup 300 under callgrind); since session 12 it sets the forwarded StepResult's slots directly, without
the __init__ call (-4.1k of 566k); since session 13 an untimed context (the Kafka worker at-least-once)
reads no clock (-1.8k of 538k); since session 19 the rule results' column is written from each rule's
rendered head, no record dict made for a passing rule (processors/rule_render.py; docs/performance.md,
session 19).
Rows, decisions and hashes are unchanged (the executor, parity and audit tests).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import FAIL, REJECT, ROUTE, Outcome, Processor, StepContext
from dana_workflows.processors.pipeline import DLQ, REJECTED, Edge, Node
from dana_workflows.processors.pipeline import REVIEW as REVIEW_BOUNDARY
from dana_workflows.processors.recovery import (
    DEFAULT,
    ERROR_CLASS_KEY,
    FALLBACK_MODEL,
    RETRY,
    REVIEW,
    Choice,
    classify,
    classify_exception,
)
from dana_workflows.processors.recovery import DLQ as DLQ_RUNG
from dana_workflows.processors.rule_render import render_results
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


_new_step_result = StepResult.__new__


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
    # The first attempt is _attempt written out here: one coroutine less per step (~0.5 µs a step, four
    # steps an event on the claims example; docs/performance.md, "Session 10: shared processing").
    trial = env if owned else _fresh(env, 0)
    timed = ctx.timed  # untimed (the Kafka worker at-least-once, the benches): no clock read at all
    started = perf_counter_ns() if timed else 0
    try:
        outcome = await node.processor.process(trial, ctx)
    except Exception as exc:  # a step that raises goes down its recovery ladder, never crashes the run
        outcome = _raised(trial, exc)
    took = (perf_counter_ns() - started) // 1000 if timed else 0
    if outcome.kind is not FAIL:
        return _finish(node, outcome, took, [], ctx)
    return await _recover(node, env, ctx, outcome, took)


async def _attempt(processor: Processor, trial: Envelope, ctx: StepContext) -> tuple[Outcome, int]:
    """One attempt of a retry or fallback rung (the first attempt runs inline in execute)."""
    started = perf_counter_ns()
    try:
        outcome = await processor.process(trial, ctx)
    except Exception as exc:  # a step that raises goes down its recovery ladder, never crashes the run
        outcome = _raised(trial, exc)
    return outcome, (perf_counter_ns() - started) // 1000 if ctx.timed else 0


def _raised(trial: Envelope, exc: Exception) -> Outcome:
    """The failed outcome of an attempt that raised, classified for the recovery ladder."""
    details = {ERROR_CLASS_KEY: classify_exception(exc)}
    return Outcome.fail(trial, f"{type(exc).__name__}: {exc}", details=details)


async def _recover(node: Node, env: Envelope, ctx: StepContext, outcome: Outcome, took: int) -> StepResult:
    """After a failed first attempt: down the node's recovery ladder (processors/recovery.py decides,
    docs/recovery.md explains) until a rung places the event: an attempt that succeeds, the default,
    review or dlq. Every rung attempt is a `recovery` audit row; failed attempts keep their `error` rows."""
    ladder = node.ladder
    rows: list[AuditRow] = []
    attempt, position, retries_left = 0, -1, ladder.max_attempts - 1
    # the failed attempts are audited on the original chain (env), not on their discarded copies
    _failed(node, env, outcome, took, rows, ctx, attempt)
    error = outcome.error or "failed"
    choice = ladder.choose(classify(outcome), env.payload)
    while True:
        position = ladder.next_rung(choice, position, retries_left)
        rung = ladder.rungs[position]
        if rung in (RETRY, FALLBACK_MODEL):
            processor = node.processor if rung == RETRY else node.fallback or node.processor
            if rung == RETRY:
                if ladder.backoff_ms:
                    await asyncio.sleep(
                        ladder.backoff_ms * 2 ** (ladder.max_attempts - 1 - retries_left) / 1000
                    )
                retries_left -= 1
            attempt += 1
            outcome, took = await _attempt(processor, _fresh(env, attempt), ctx)
            if outcome.kind is not FAIL:
                rows.append(_rung_row(outcome.envelope, node, rung, choice, True, "", attempt, ctx))
                return _finish(node, outcome, took, rows, ctx)
            _failed(node, env, outcome, took, rows, ctx, attempt)
            error = outcome.error or "failed"
            rows.append(_rung_row(env, node, rung, choice, False, error, attempt, ctx))
            choice = ladder.choose(classify(outcome), env.payload)
            continue
        if rung == DEFAULT and ladder.default is not None:
            out = _fresh(env, attempt)
            out.payload.update(ladder.default)
            rows.append(_rung_row(out, node, rung, choice, True, error, attempt, ctx))
            rows.append(
                transition(
                    out,
                    "defaulted",
                    node.path,
                    ctx.clock(),
                    decision="default",
                    reason=error,
                    attempt=attempt,
                    details={"default": ladder.default},
                )
            )
            return _forward(node, out, node.emit or next(iter(node.branches.values())), rows)
        return _park(node, env, ctx, rows, choice, error, attempt, REVIEW if rung == REVIEW else DLQ_RUNG)


def _failed(
    node: Node,
    env: Envelope,
    outcome: Outcome,
    took: int,
    rows: list[AuditRow],
    ctx: StepContext,
    attempt: int,
) -> None:
    """A failed attempt's rows: its phases, then the error."""
    if outcome.phases:
        _phase_rows(env, node.path, outcome, rows, ctx, attempt)
    rows.append(
        transition(
            env,
            "error",
            node.path,
            ctx.clock(),
            reason=outcome.error or "failed",
            attempt=attempt,
            duration_us=took,
            details=outcome.details,
        )
    )


def _rung_row(
    env: Envelope,
    node: Node,
    rung: str,
    choice: Choice,
    succeeded: bool,
    reason: str,
    attempt: int,
    ctx: StepContext,
) -> AuditRow:
    """The `recovery` row of one rung attempt: what `dana-wf recovery report` counts."""
    details: dict[str, Any] = {ERROR_CLASS_KEY: choice.error_class, "succeeded": succeeded}
    if choice.cause != choice.error_class:
        details["cause"] = choice.cause  # a domain rule renamed the class (high_risk): keep the failure's
    return transition(
        env,
        "recovery",
        node.path,
        ctx.clock(),
        decision=rung,
        reason=reason,
        attempt=attempt,
        details=details,
    )


def _park(
    node: Node,
    env: Envelope,
    ctx: StepContext,
    rows: list[AuditRow],
    choice: Choice,
    error: str,
    attempt: int,
    rung: str,
) -> StepResult:
    """The event leaves the step on a rung that ends its run here: `review` (a person decides:
    docs/recovery.md, `dana-wf review`) or `dlq`. Review is a placement, dlq is the ladder giving up."""
    provenance = {**env.provenance, "error": error}
    details: dict[str, Any] | None = None
    if rung == REVIEW:
        details = {ERROR_CLASS_KEY: choice.error_class, "rung": REVIEW}
        provenance[REVIEW] = {"reason": error, **details}
    parked = env.evolve(step=node.path, attempt=attempt, provenance=provenance)
    rows.append(_rung_row(parked, node, rung, choice, rung == REVIEW, error, attempt, ctx))
    rows.append(
        transition(
            parked,
            rung,
            node.path,
            ctx.clock(),
            decision=rung,
            reason=error,
            attempt=attempt,
            details=details,
        )
    )
    return StepResult(REVIEW_BOUNDARY if rung == REVIEW else DLQ, parked, None, rows, error=error)


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
                duration_us=phase.duration_us if ctx.timed else 0,
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
    results = outcome.rule_results
    if results:
        # the column from each result's head (processors/rule_render.py, its rule's, rendered once per
        # verdict): a record dict is made only for the envelope's evidence, none for a passing rule
        rendered = render_results(results)
        if kind is REJECT:
            env.provenance["rule_results"] = [result.to_record() for result in results]
        else:
            failed = []
            for result in results:
                if not result.passed:
                    failed.append(result.to_record())
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
    # the slots set directly, without the dataclass __init__ call (every step of every event)
    result = _new_step_result(StepResult)
    result.boundary = edge.boundary
    result.envelope = env
    result.edge = edge
    result.rows = rows
    result.reasons = []
    result.error = None
    result.outcome = outcome
    return result
