"""The llm step's own pieces (processors/llm/processor.py), without a model: what each one decides.

From the module and docs/efficiency.md: the operator's setting wins over the spec's mode, which wins
over the default (optimised); the model chain is the model then its fallbacks; the decision fields
default to the first output field and the confidence field to an output named ``confidence`` (else the
model reports one); a rule breaks the answer only at severity reject; a guard that errors is a step
failure; a skipped event gets every output field as null; naive mode has no cache, optimised uses the
client's cache or else the step state; a budget fallback fills the declared fields, else the step fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.base import OutcomeKind, RuleResult, StepContext
from dana_workflows.processors.efficiency.budget import Refused
from dana_workflows.processors.efficiency.state import EfficiencyState
from dana_workflows.processors.llm import LLMClient
from dana_workflows.processors.llm.cache import NO_CACHE, MappingLLMCache
from dana_workflows.processors.llm.client import LLMResult
from dana_workflows.processors.llm.phase_prompts import CONFIDENCE, INPUT_OK, VIOLATED
from dana_workflows.processors.llm.poet_record import EventRecord
from dana_workflows.processors.llm.processor import LLMProcessor
from dana_workflows.processors.llm.prompt import RenderedPrompt
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.efficiency_ir import BudgetIR, EfficiencyIR
from dana_workflows.workflow.ir import FieldIR, LLMLimitsIR, LLMStepIR, RuleIR

pytestmark = pytest.mark.unit

OUT = (FieldIR(name="decision", type="string"), FieldIR(name="share", type="double"))


def _step(**kw: Any) -> LLMStepIR:
    base: dict[str, Any] = {"name": "judge", "prompt": "Claim {{ id }} for {{ event.run_id }}", "output": OUT}
    base.update(kw)
    return LLMStepIR(**base)


def _env(**payload: Any) -> Envelope:
    return Envelope("e1", "r1", "wf", 1, "judge", {"id": 7, **payload})


def test_names_chain_template_and_outputs_of_a_compiled_step() -> None:
    p = LLMProcessor(_step(model="big", fallback_models=("small", "tiny")), "wf")
    assert p.models == ("big", "small", "tiny")
    assert p.template_id == "wf.judge"
    assert LLMProcessor(_step(template_id="t1"), "wf").template_id == "t1"
    assert p.decision_fields == ("decision",) and p.confidence_field is None
    # no confidence field: the combined and naive calls ask the model for one
    assert [f.name for f in p.combined_output.fields] == ["decision", "share", CONFIDENCE]
    assert [f.name for f in p.naive_output.fields] == ["decision", "share", CONFIDENCE]
    assert [f.name for f in p.verify_output.fields] == ["decision", "share", VIOLATED]
    assert [f.name for f in p.perceive_output.fields] == ["proceed", "failed_check"]
    # the schema names the model is sent: the step's output name with the call's suffix
    assert (p.output.name, p.perceive_output.name) == ("wf_judge", "wf_judge_perceive")
    assert (p.combined_output.name, p.naive_output.name) == ("wf_judge_poet", "wf_judge_naive")


def test_a_step_with_checks_and_its_own_confidence_field() -> None:
    out = (*OUT, FieldIR(name="confidence", type="double"))
    p = LLMProcessor(
        _step(
            output=out,
            perceive=(RuleIR(id="c", expr="id > 0"),),
            efficiency=EfficiencyIR(decision_fields=("share",)),
        ),
        "wf",
    )
    assert p.confidence_field == "confidence" and p.decision_fields == ("share",)
    assert [f.name for f in p.combined_output.fields] == ["decision", "share", "confidence", INPUT_OK]
    assert [f.name for f in p.naive_output.fields] == ["decision", "share", "confidence"]
    assert (
        LLMProcessor(_step(efficiency=EfficiencyIR(confidence_field="share")), "wf").confidence_field
        == "share"
    )


def test_a_bad_guard_names_the_step_and_the_expression() -> None:
    with pytest.raises(
        ValueError, match=r"workflow 'wf', llm step 'judge': 'when' is not a valid CEL expression"
    ):
        LLMProcessor(_step(when="id >"), "wf")


def test_the_limiter_follows_the_steps_limits() -> None:
    p = LLMProcessor(_step(limits=LLMLimitsIR(rpm=5, tpm=100, concurrency=2)), "wf")
    assert p.limiter is not None and (p.limiter.rpm, p.limiter.tpm, p.limiter.concurrency) == (5, 100, 2)
    assert p.limiter.name == "workflow 'wf', llm step 'judge'"


def test_mode_precedence_setting_then_spec_then_optimised() -> None:
    spec_naive = LLMProcessor(_step(efficiency=EfficiencyIR(mode="naive")), "wf")
    plain = LLMProcessor(_step(), "wf")
    assert plain.mode(None) == "optimised" and spec_naive.mode(None) == "naive"
    assert spec_naive.mode(LLMClient()) == "naive"
    assert spec_naive.mode(LLMClient(efficiency=EfficiencyState("optimised"))) == "optimised"
    assert plain.mode(LLMClient(efficiency=EfficiencyState("naive"))) == "naive"


def test_on_models_asks_other_models_and_shares_the_rest() -> None:
    p = LLMProcessor(_step(model="big"), "wf")
    twin = p.on_models(("cheap",))
    assert twin.models == ("cheap",) and p.models == ("big",)
    assert twin.limiter is p.limiter and twin.template is p.template


def test_the_template_sees_the_payload_and_the_event() -> None:
    p = LLMProcessor(_step(), "wf")
    v = p.variables(_env(a=1))
    assert v["a"] == 1 and v["payload"] == {"id": 7, "a": 1}
    assert v["event"] == {"event_id": "e1", "run_id": "r1", "workflow": "wf", "step": "judge"}
    rendered = p.render(_env())
    assert isinstance(rendered, RenderedPrompt) and rendered.user == "Claim 7 for r1"
    failed = LLMProcessor(_step(prompt="{{ nope }}"), "wf").render(_env())
    assert not isinstance(failed, RenderedPrompt) and failed.kind is OutcomeKind.FAIL


def test_the_guard() -> None:
    assert LLMProcessor(_step(), "wf").guard_allows(_env()) is True
    p = LLMProcessor(_step(when="id > 5"), "wf")
    assert p.guard_allows(_env()) is True
    assert p.guard_allows(Envelope("e", "r", "wf", 1, "s", {"id": 5})) is False
    broken = p.guard_allows(Envelope("e", "r", "wf", 1, "s", {}))
    assert not isinstance(broken, bool) and broken.kind is OutcomeKind.FAIL
    assert (broken.error or "").startswith("llm step 'judge': 'when' failed on this event: ")


def test_a_skip_sets_every_output_to_null_and_says_why() -> None:
    p = LLMProcessor(_step(when="id > 100"), "wf")
    out = p.skip(_env(decision="keep me?"))
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.payload == {"id": 7, "decision": None, "share": None}
    assert out.details == {
        "dwf.llm.outcome": "skipped",
        "dwf.llm.template_id": "wf.judge",
        "dwf.llm.when": "id > 100",
    }


def test_no_client_in_the_context_is_a_step_failure() -> None:
    p = LLMProcessor(_step(), "wf")
    out = p.client(_env(), StepContext(clock=lambda: 0))
    assert (
        not isinstance(out, LLMClient) and out.error == "llm step 'judge': no LLM client in the step context"
    )
    prepared = p.prepare(_env(), StepContext(clock=lambda: 0), "optimised")
    assert not isinstance(prepared, tuple) and prepared.kind is OutcomeKind.FAIL


def test_the_cache_per_mode() -> None:
    p = LLMProcessor(_step(), "wf")
    ctx = StepContext(clock=lambda: 0)
    client = LLMClient()
    assert p.cache("naive", client, ctx) is NO_CACHE
    state_cache = p.cache("optimised", client, ctx)
    assert isinstance(state_cache, MappingLLMCache) and state_cache.mapping is ctx.state
    own = MappingLLMCache({})
    assert p.cache("optimised", LLMClient(cache=own), ctx) is own


def test_a_request_carries_the_steps_settings() -> None:
    p = LLMProcessor(
        _step(
            model="m",
            fallback_models=("f",),
            temperature=0.3,
            template_version="4",
            limits=LLMLimitsIR(max_tokens=99, timeout_s=7.0),
        ),
        "wf",
    )
    r = RenderedPrompt("S", "U", "H")
    history = ({"role": "user", "content": "again"},)
    req = p.request(r, "sys", "prompt", p.output, history)
    assert (req.models, req.prompt, req.system, req.output) == (("m", "f"), "prompt", "sys", p.output)
    assert (req.temperature, req.max_tokens, req.timeout_s) == (0.3, 99, 7.0)
    assert (req.template_id, req.template_version, req.prompt_hash) == ("wf.judge", "4", "H")
    assert req.limiter is p.limiter and req.history == history


def test_only_reject_rules_break_an_answer_and_they_see_payload_and_answer() -> None:
    p = LLMProcessor(
        _step(
            enforce=(
                RuleIR(id="share_ok", expr="share <= 1.0"),
                RuleIR(id="soft", expr="share < 0.5", severity="warn"),
                RuleIR(id="with_payload", expr="id == 7"),
            )
        ),
        "wf",
    )
    assert p.violations({"id": 7}, {"decision": "x", "share": 0.7}) == []
    broken = p.violations({"id": 8}, {"decision": "x", "share": 1.5})
    assert [r.rule_id for r in broken] == ["share_ok", "with_payload"]


def test_answers_confidence_and_decisions() -> None:
    p = LLMProcessor(_step(), "wf")
    assert p.answer_of({"share": 0.5, "extra": 1}) == {"decision": None, "share": 0.5}
    assert p.confidence_of({CONFIDENCE: 1}) == 1.0
    assert p.confidence_of({CONFIDENCE: 0.25}) == 0.25
    assert p.confidence_of({CONFIDENCE: True}) is None
    assert p.confidence_of({CONFIDENCE: "0.9"}) is None
    assert p.confidence_of({}) is None
    assert p.same_decision({"decision": "a", "share": 1}, {"decision": "a", "share": 2})
    assert not p.same_decision({"decision": "a"}, {"decision": "b"})


def test_anomalies_name_warn_failures_here_and_earlier() -> None:
    p = LLMProcessor(_step(), "wf")
    env = _env().evolve(
        provenance={
            "rule_results": [
                {"rule_id": "early", "passed": False, "severity": "warn"},
                {"rule_id": "hard", "passed": False, "severity": "reject"},
                {"rule_id": "fine", "passed": True, "severity": "warn"},
            ]
        }
    )
    here = [RuleResult("a", "judge", False, "warn", "m"), RuleResult("b", "judge", True, "warn", "m")]
    assert p.anomalies(env, here) == ["rule a failed (warn)", "rule early failed at an earlier step (warn)"]
    assert p.anomalies(_env(), []) == []


def test_a_spent_budget_fills_the_fallback_else_fails_and_the_first_refusal_alerts() -> None:
    budget = BudgetIR(tokens_per_hour=10, fallback={"decision": "review"})
    p = LLMProcessor(_step(efficiency=EfficiencyIR(budget=budget)), "wf")
    assert [name for name, _ in p.budgets] == ["wf.judge"]
    ev = EventRecord("optimised", "judge")
    out = p.budget_fallback(_env(), ev, Refused("budget spent", True), "operate")
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.payload == {"id": 7, "decision": "review", "share": None}
    assert out.details == {"dwf.llm.outcome": "budget", "dwf.eff.budget": "budget spent"}
    assert ev.settled_by == "budget" and ev.budget_alert is True
    assert [(ph.name, ph.decision) for ph in ev.phases] == [
        ("operate", "budget"),
        ("alert", "budget_exhausted"),
    ]
    quiet = EventRecord("optimised", "judge")
    both = LLMProcessor(
        _step(
            efficiency=EfficiencyIR(
                budget=BudgetIR(tokens_per_hour=10), workflow_budget=BudgetIR(tokens_per_hour=5)
            )
        ),
        "wf",
    )
    assert [name for name, _ in both.budgets] == ["wf.judge", "wf"]
    failed = both.budget_fallback(_env(), quiet, Refused("spent", False), "enforce")
    assert failed.kind is OutcomeKind.FAIL and failed.error == "llm step 'judge': spent"
    assert [ph.name for ph in quiet.phases] == ["enforce"] and quiet.budget_alert is False


def test_finish_merges_the_answer_and_records_model_and_prompt() -> None:
    p = LLMProcessor(_step(), "wf")
    res = LLMResult(output={"decision": "ok"}, audit={"gen_ai.request.model": "m"}, model="m-2026")
    out = p.finish(
        _env().evolve(provenance={"k": 1}),
        {"decision": "ok", "share": 0.1},
        res,
        RenderedPrompt("", "u", "HASH"),
    )
    assert out.envelope.payload == {"id": 7, "decision": "ok", "share": 0.1}
    assert out.envelope.provenance == {"k": 1, "model": "m-2026", "prompt_hash": "HASH"}
    assert out.details == {"gen_ai.request.model": "m"}


async def test_a_budget_refusal_releases_what_an_earlier_budget_held() -> None:
    step_budget = BudgetIR(tokens_per_hour=1_000_000)
    wf_budget = BudgetIR(tokens_per_hour=1)  # refuses any call
    p = LLMProcessor(_step(efficiency=EfficiencyIR(budget=step_budget, workflow_budget=wf_budget)), "wf")
    client = LLMClient(LLMEndpoint(base_url="http://127.0.0.1:9/v1"))
    req = p.request(RenderedPrompt("", "u", "h"), "s", "prompt", p.output)
    ev = EventRecord("optimised", "judge")
    refused = await p.ask(ev, "operate", req, StepContext(clock=lambda: 0), client, NO_CACHE)
    assert isinstance(refused, Refused)
    assert sum(ev.calls.values()) == 0
    ledger = client.efficiency.ledger("wf.judge", step_budget)
    again = ledger.admit(0, 999_999, 0.0)  # the first budget's reservation was given back
    assert not isinstance(again, Refused)
