"""The naive mode, the baseline of docs/efficiency.md: per event a perceive call (the model checks the
input and whether the step applies), an operate call (the answer) and an enforce call (the model
verifies the answer against the objectives); no cache, no known answers, no bypass."""

from __future__ import annotations

from dana_workflows.processors.base import Outcome, RuleResult, StepContext
from dana_workflows.processors.efficiency.budget import Refused
from dana_workflows.processors.llm.phase_prompts import GUARD_ID, perceive_system, perceive_user
from dana_workflows.processors.llm.poet_enforce import Turn, enforce
from dana_workflows.processors.llm.poet_record import EventRecord, call_fields_of
from dana_workflows.processors.llm.poet_step import PoetStep
from dana_workflows.schemas.envelope import Envelope

NAIVE = "naive"


def _refusal(p: PoetStep, env: Envelope, ev: EventRecord, failed: str | None) -> Outcome:
    """The model said the input fails a check: skip (the guard), or reject naming the check."""
    ev.settled_by, ev.proceeded = "perceive", False
    if failed == GUARD_ID and p.guard is not None:
        ev.phase("perceive", "skip", failed_check=failed)
        return p.skip(env)
    rule = p.check_ir.get(failed or "")
    if rule is not None:
        message = rule.message or f"rule {rule.id} failed"
        result = RuleResult(rule.id, p.name, False, "reject", message, {})
    else:
        result = RuleResult(
            "perceive", p.name, False, "reject", f"the model found the input unfit ({failed})", {}
        )
    ev.phase("perceive", "reject", failed_check=failed)
    return Outcome.reject(env, [f"{result.rule_id}: {result.message}"], rule_results=[result])


async def run_naive(p: PoetStep, env: Envelope, ctx: StepContext, ev: EventRecord) -> Outcome:
    ready = p.prepare(env, ctx, NAIVE)
    if isinstance(ready, Outcome):
        return ready
    rendered, client, cache = ready
    # perceive: the model checks the input (the symbols run too, only to record anomalies for the risk tier)
    results = [c.check(env.payload) for c in p.checks]
    preq = p.request(
        rendered,
        perceive_system(p.name, p.step.perceive, p.step.when),
        perceive_user(rendered, env.payload),
        p.perceive_output,
    )
    seen = await p.ask(ev, "perceive", preq, ctx, client, cache)
    if isinstance(seen, Refused):
        ev.proceeded = False
        return p.budget_fallback(env, ev, seen, "perceive")
    if seen.output is None:
        ev.phase("perceive", "error", error=seen.error)
        return Outcome.fail(env, error=f"llm step {p.name!r}: the perceive call failed: {seen.error}")
    failed = seen.output.get("failed_check")
    anomalies = p.anomalies(env, results)
    if not seen.output.get("proceed"):
        rule = p.check_ir.get(failed or "")
        if rule is None or rule.severity != "warn":
            return _refusal(p, env, ev, failed)
        anomalies.append(f"the model reports rule {rule.id} fails (warn)")
    ev.phase("perceive", "pass", failed_check=failed, anomalies=anomalies)
    # operate: the answer
    req = p.request(rendered, rendered.system, rendered.user, p.naive_output)
    res = await p.ask(ev, "operate", req, ctx, client, cache)
    if isinstance(res, Refused):
        return p.budget_fallback(env, ev, res, "operate")
    if res.output is None:
        ev.phase("operate", "error", error=res.error)
        return Outcome.fail(env, error=f"llm step {p.name!r}: {res.error}", details=res.audit)
    ev.phase("operate", "call", **call_fields_of(res.audit))
    # enforce: the model verifies, then the symbols
    turn = Turn(p, env, ctx, ev, client, cache, rendered, req, res)
    return await enforce(turn, p.confidence_of(res.output), anomalies, naive=True)
