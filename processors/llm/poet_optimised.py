"""The optimised mode: symbols first, one combined call, symbolic enforce, verification only on risk."""

from __future__ import annotations

from dana_workflows.processors.base import Outcome, StepContext
from dana_workflows.processors.efficiency.budget import Refused
from dana_workflows.processors.efficiency.risk import HIGH, Signals
from dana_workflows.processors.llm.phase_prompts import INPUT_OK, combined_system
from dana_workflows.processors.llm.poet_enforce import Turn, enforce
from dana_workflows.processors.llm.poet_record import EventRecord, call_fields_of
from dana_workflows.processors.llm.poet_step import PoetStep
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.cel_expr import EvaluationError

OPTIMISED = "optimised"
NAIVE_CALLS_PER_ANSWER = 3  # perceive + operate + enforce: what a known answer saves


def _known_answer(p: PoetStep, env: Envelope, ev: EventRecord) -> Outcome | None:
    for i, (expr, known) in enumerate(p.known):
        try:
            hit = expr.evaluate(env.payload) is True
        except EvaluationError:
            continue  # a condition that cannot be evaluated on this event does not apply to it
        if not hit:
            continue
        answer = {**p.output.nulls(), **known}
        # a declared answer is a symbol, not a model's guess, but high risk is verified all the same
        assessment = p.assessor.assess({**env.payload, **answer}, Signals(1.0))
        if assessment.tier == HIGH:
            ev.risk = {"tier": HIGH, "known_answer": i, "reason": "high risk: the known answer is not used"}
            return None
        ev.settled_by = "known_answer"
        ev.avoided["known_answer"] += NAIVE_CALLS_PER_ANSWER
        ev.phase("operate", "known_answer", index=i)
        broken = p.violations(env.payload, answer)
        if broken:  # a declared answer that breaks a declared objective: the spec is wrong, say so
            names = ", ".join(r.rule_id for r in broken)
            ev.phase("enforce", "violation", rules=[r.rule_id for r in broken])
            return Outcome.fail(env, error=f"llm step {p.name!r}: known answer {i} breaks {names}")
        ev.phase("enforce", "pass")
        details = {"dwf.llm.outcome": "known_answer", "dwf.llm.known_answer": i}
        return Outcome.emit(env.evolve(payload={**env.payload, **answer}), details=details)
    return None


async def run_optimised(p: PoetStep, env: Envelope, ctx: StepContext, ev: EventRecord) -> Outcome:
    # perceive: symbols only
    wanted = p.guard_allows(env)
    if isinstance(wanted, Outcome):
        ev.phase("perceive", "error", error=wanted.error)
        return wanted
    if not wanted:
        ev.settled_by, ev.proceeded = "guard", False
        ev.avoided["guard"] += 1
        ev.phase("perceive", "skip", when=p.step.when)
        return p.skip(env)
    results = [c.check(env.payload) for c in p.checks]
    broken = [r for r in results if not r.passed and r.severity == "reject"]
    if broken:
        ev.settled_by, ev.proceeded = "rules", False
        ev.avoided["rules"] += 1
        ev.phase("perceive", "reject", rules=[r.rule_id for r in broken])
        return Outcome.reject(env, [f"{r.rule_id}: {r.message}" for r in broken], rule_results=results)
    anomalies = p.anomalies(env, results)
    ev.phase("perceive", "pass", checks=[r.rule_id for r in results], anomalies=anomalies)
    # operate: a known answer, else the one combined call
    known = _known_answer(p, env, ev)
    if known is not None:
        return known
    ready = p.prepare(env, ctx, OPTIMISED)
    if isinstance(ready, Outcome):
        return ready
    rendered, client, cache = ready
    system = combined_system(rendered, p.step.perceive, p.step.enforce, p.confidence_field is None)
    req = p.request(rendered, system, rendered.user, p.combined_output)
    res = await p.ask(ev, "combined", req, ctx, client, cache)
    if isinstance(res, Refused):
        return p.budget_fallback(env, ev, res, "operate")
    if res.output is None:
        ev.phase("operate", "error", error=res.error)
        return Outcome.fail(env, error=f"llm step {p.name!r}: {res.error}", details=res.audit)
    ev.avoided["combined"] += 1  # the perceive call, folded into this one
    if res.output.get(INPUT_OK) is False:
        anomalies.append("the model reports the input is not ok")
    ev.phase(
        "operate", "cache" if res.audit.get("dwf.llm.cache_hit") else "call", **call_fields_of(res.audit)
    )
    turn = Turn(p, env, ctx, ev, client, cache, rendered, req, res)
    return await enforce(turn, p.confidence_of(res.output), anomalies, naive=False)
