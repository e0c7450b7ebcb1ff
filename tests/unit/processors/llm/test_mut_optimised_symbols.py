"""What optimised mode settles by symbols alone (processors/llm/poet_optimised.py), before any call.

From docs/efficiency.md: the guard (``when``) false skips the event; a reject check that fails rejects it
naming the check; a declared known answer whose condition holds is the answer (a condition that cannot be
evaluated does not apply), unless the event is high risk; a known answer that breaks a declared objective
is a spec error and fails the event. Each is audited as phases and saves the naive protocol's calls.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.llm.processor import LLMProcessor
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.efficiency_ir import EfficiencyIR, KnownAnswerIR, RiskIR
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, RuleIR

pytestmark = pytest.mark.unit

OUT = (FieldIR(name="decision", type="string"), FieldIR(name="confidence", type="double"))


def _proc(**kw: Any) -> LLMProcessor:
    base: dict[str, Any] = {"name": "judge", "prompt": "{{ amount }}", "output": OUT}
    base.update(kw)
    return LLMProcessor(LLMStepIR(**base), "wf")


async def _run(p: LLMProcessor, **payload: Any) -> Any:
    env = Envelope("e", "r", "wf", 1, "judge", {"amount": 10, **payload})
    return await p.process(env, StepContext(clock=lambda: 0))


async def test_a_false_guard_skips_with_one_naive_call_saved() -> None:
    out = await _run(_proc(when="amount > 100"))
    assert out.kind is OutcomeKind.EMIT and out.envelope.payload["decision"] is None
    eff = out.details["dwf.eff"]
    assert eff["settled_by"] == "guard" and eff["avoided"] == {"guard": 1} and eff["naive_calls"] == 1
    assert [(p.name, p.decision) for p in out.phases] == [("perceive", "skip")]
    assert out.phases[0].details == {"when": "amount > 100"}


async def test_a_guard_that_errors_fails_the_event() -> None:
    out = await _run(_proc(when="missing > 1"))
    assert out.kind is OutcomeKind.FAIL and [(p.name, p.decision) for p in out.phases] == [
        ("perceive", "error")
    ]


async def test_a_failing_reject_check_rejects_naming_it_and_warn_checks_do_not() -> None:
    checks = (
        RuleIR(id="small", expr="amount < 5", message="too large"),
        RuleIR(id="soft", expr="amount < 1", severity="warn", message="w"),
        RuleIR(id="positive", expr="amount > 0", message="p"),
    )
    out = await _run(_proc(perceive=checks))
    assert out.kind is OutcomeKind.REJECT and out.reasons == ["small: too large"]
    assert [r.rule_id for r in out.rule_results] == ["small", "soft", "positive"]
    eff = out.details["dwf.eff"]
    assert eff["settled_by"] == "rules" and eff["avoided"] == {"rules": 1} and eff["naive_calls"] == 1
    assert out.phases[0].details == {"rules": ["small"]}


def _known(*answers: tuple[str, dict[str, Any]], **eff: Any) -> EfficiencyIR:
    return EfficiencyIR(known_answers=tuple(KnownAnswerIR(when=w, output=o) for w, o in answers), **eff)


async def test_the_first_known_answer_that_holds_is_the_answer() -> None:
    eff = _known(
        ("nope > 1", {"decision": "x"}),
        ("amount > 50", {"decision": "big"}),
        ("amount == 10", {"decision": "ten"}),
    )
    out = await _run(_proc(efficiency=eff))
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.payload == {"amount": 10, "decision": "ten", "confidence": None}
    assert out.details["dwf.llm.outcome"] == "known_answer" and out.details["dwf.llm.known_answer"] == 2
    summary = out.details["dwf.eff"]
    assert summary["settled_by"] == "known_answer" and summary["avoided"] == {"known_answer": 3}
    assert summary["calls"] == {} and summary["naive_calls"] == 3
    assert [(p.name, p.decision) for p in out.phases] == [
        ("perceive", "pass"),
        ("operate", "known_answer"),
        ("enforce", "pass"),
    ]
    assert out.phases[1].details == {"index": 2}


async def test_a_known_answer_that_breaks_an_objective_fails_the_event() -> None:
    eff = _known(("true", {"decision": "pay"}))
    out = await _run(_proc(efficiency=eff, enforce=(RuleIR(id="must_review", expr="decision == 'review'"),)))
    assert out.kind is OutcomeKind.FAIL and out.error == "llm step 'judge': known answer 0 breaks must_review"
    assert [(p.name, p.decision) for p in out.phases][-1] == ("enforce", "violation")


async def test_a_high_risk_event_does_not_take_the_known_answer() -> None:
    eff = _known(("true", {"decision": "pay"}), risk=RiskIR(high=("amount >= 10",)))
    out = await _run(_proc(efficiency=eff))
    # no known answer: the call is needed, and this context has no client
    assert out.kind is OutcomeKind.FAIL and out.error == "llm step 'judge': no LLM client in the step context"
    risk = out.details["dwf.eff"]["risk"]
    assert risk == {"tier": "high", "known_answer": 0, "reason": "high risk: the known answer is not used"}
