"""The enforce phase both modes share: objectives checked by symbols, one send-back naming the broken
rule, verification when the risk assessor asks for it (naive mode: always), then recovery on failure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dana_workflows.processors.base import Outcome, StepContext
from dana_workflows.processors.efficiency.budget import Refused
from dana_workflows.processors.efficiency.risk import BypassDecision, Signals, decide
from dana_workflows.processors.llm.cache import LLMCache
from dana_workflows.processors.llm.client import LLMClient, LLMRequest, LLMResult
from dana_workflows.processors.llm.phase_prompts import VIOLATED, repair_history, verify_system, verify_user
from dana_workflows.processors.llm.poet_record import EventRecord
from dana_workflows.processors.llm.poet_step import PoetStep
from dana_workflows.processors.llm.prompt import RenderedPrompt
from dana_workflows.processors.recovery import ENFORCE_VIOLATION
from dana_workflows.schemas.envelope import Envelope

NAIVE_DECISION = "naive mode verifies every answer"

# what a recovery ladder reads to name this failure's class (enforce: processors/recovery.py)
VIOLATION = {"error.type": ENFORCE_VIOLATION}


@dataclass(slots=True)
class Turn:
    """What the enforce phase works on: the event, its call so far, and where the calls go."""

    p: PoetStep
    env: Envelope
    ctx: StepContext
    ev: EventRecord
    client: LLMClient
    cache: LLMCache
    rendered: RenderedPrompt
    req: LLMRequest  # the call that gave the answer (a send-back continues it)
    res: LLMResult
    repaired: bool = False


async def _send_back(t: Turn, answer: dict[str, Any]) -> dict[str, Any] | Outcome:
    """Check the objectives; on a violation, the one send-back naming the rules, checked again."""
    p = t.p
    broken = p.violations(t.env.payload, answer)
    if not broken:
        return answer
    names = ", ".join(r.rule_id for r in broken)
    if t.repaired:
        t.ev.phase("enforce", "violation", rules=[r.rule_id for r in broken])
        return Outcome.fail(
            t.env,
            error=f"llm step {p.name!r}: the answer breaks {names} after one send-back",
            details=VIOLATION,
        )
    t.repaired = True
    t.ev.repairs += 1
    history = repair_history(answer, [p.objective_ir[r.rule_id] for r in broken])
    again = await p.ask(t.ev, "repair", replace(t.req, history=history), t.ctx, t.client, t.cache)
    if isinstance(again, Refused):
        return p.budget_fallback(t.env, t.ev, again, "enforce")
    if again.output is None:
        t.ev.phase("enforce", "error", error=again.error)
        return Outcome.fail(
            t.env, error=f"llm step {p.name!r}: the send-back for {names} failed: {again.error}"
        )
    fixed = p.answer_of(again.output)
    still = p.violations(t.env.payload, fixed)
    if still:
        t.ev.phase("enforce", "violation", rules=[r.rule_id for r in still], sent_back=names)
        again_names = ", ".join(r.rule_id for r in still)
        return Outcome.fail(
            t.env,
            error=f"llm step {p.name!r}: the answer breaks {again_names} after one send-back",
            details=VIOLATION,
        )
    return fixed


async def _verify(t: Turn, answer: dict[str, Any], phase: str) -> tuple[dict[str, Any], str, Any] | Outcome:
    """The verification call: (the answer to keep, verified|corrected, what the verifier named)."""
    p = t.p
    vreq = p.request(
        t.rendered, verify_system(p.name, p.step.enforce), verify_user(t.rendered, answer), p.verify_output
    )
    checked = await p.ask(t.ev, phase, vreq, t.ctx, t.client, t.cache)
    if isinstance(checked, Refused):
        return p.budget_fallback(t.env, t.ev, checked, "enforce")  # never accepted unverified
    if checked.output is None:
        t.ev.phase("enforce", "error", error=checked.error)
        return Outcome.fail(
            t.env, error=f"llm step {p.name!r}: the verification call failed: {checked.error}"
        )
    verified = p.answer_of(checked.output)
    t.ev.first_correct = p.same_decision(answer, verified)
    if t.ev.first_correct:
        return answer, "verified", checked.output.get(VIOLATED)
    return verified, "corrected", checked.output.get(VIOLATED)


async def enforce(t: Turn, confidence: float | None, anomalies: list[str], naive: bool) -> Outcome:
    p, ev = t.p, t.ev
    answer = p.answer_of(t.res.output or {})
    ev.confidence = confidence
    if not naive:  # symbols first: a broken objective is sent back before any verification
        checked = await _send_back(t, answer)
        if isinstance(checked, Outcome):
            return checked
        answer = checked
    assessment = p.assessor.assess({**t.env.payload, **answer}, Signals(confidence, tuple(anomalies)))
    if naive:
        decision = BypassDecision(
            True, assessment.tier, NAIVE_DECISION, {"reasons": list(assessment.reasons)}
        )
    else:
        thresholds = t.client.efficiency.thresholds(p.workflow, p.name, p.step.efficiency.bypass.calibration)
        decision = decide(assessment, confidence, thresholds)
    ev.risk = decision.audit()
    fields: dict[str, Any] = decision.audit()
    if decision.verify:
        # a first answer that breaks an objective is never a bypass candidate (optimised mode sends it
        # back first), so naive mode does not let its verdict count as a calibration record
        candidate = not naive or not p.violations(t.env.payload, answer)
        verified = await _verify(t, answer, "enforce" if naive else "verify")
        if isinstance(verified, Outcome):
            return verified
        answer, how, fields["violated"] = verified
        if not candidate:
            ev.first_correct = None
    else:
        ev.avoided["bypass"] += 1
        how = "bypass"
    checked = await _send_back(t, answer)
    if isinstance(checked, Outcome):
        return checked
    if t.repaired:
        how += "+repaired"
    ev.phase("enforce", how, **fields)
    return p.finish(t.env, checked, t.res, t.rendered)
