"""The `|` API builds the same IR as the equivalent YAML, and reports the same problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.workflow.dsl import Step, Workflow, branch, llm, route, rule, transform, validate
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR, TransformStepIR, ValidateStepIR, WorkflowIR
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"

CLAIMS_INPUT = {
    "claim_id": "string",
    "policy_id": "string",
    "policy_limit": "double",
    "amount": "double",
    "currency": "string",
    "description": "string",
    "submitted_at": "long",
    "channel": "string?",
}
AMOUNT_USD = (
    "upper(trim(currency)) == 'EUR' ? amount * 1.1 : "
    "(upper(trim(currency)) == 'GBP' ? amount * 1.25 : amount)"
)


def _same(ir: WorkflowIR) -> dict[str, Any]:
    """The IR without where it came from."""
    return ir.model_dump(exclude={"source"})


def _problems(exc: SpecError) -> set[tuple[str, str, str]]:
    """What a problem says, without the file and line (which differ between YAML and Python)."""
    return {(p.field, p.message, p.fix) for p in exc.problems}


def claims_workflow() -> Workflow:
    return (
        Workflow(
            "claims-triage",
            input=CLAIMS_INPUT,
            version=3,
            description="Settle small, clear claims automatically; send the rest to review.",
            objective={
                "goal": "Pay valid small claims fast; never auto-pay above the policy limit.",
                "constraints": [
                    rule(
                        "within_limit",
                        "route != 'auto_pay' || amount_usd <= policy_limit",
                        "never auto-pay above the policy limit",
                    )
                ],
                "success_criteria": [
                    "at least 60% of valid claims are settled without review",
                    "no auto-paid claim exceeds its policy limit",
                ],
            },
            drift={
                "window": {
                    "kind": "tumbling",
                    "size_s": 3600,
                    "time_field": "submitted_at",
                    "allowed_lateness_s": 600,
                },
                "monitors": [
                    {
                        "id": "currency_mix",
                        "field": "currency",
                        "feature": "categorical",
                        "step": "normalize",
                    },
                    {"id": "claim_amount", "field": "amount_usd", "feature": "numeric", "step": "normalize"},
                    {"id": "description_terms", "field": "description", "feature": "text"},
                ],
            },
        )
        | transform(
            "normalize",
            set={"currency": "upper(trim(currency))", "amount_usd": {"expr": AMOUNT_USD, "type": "double"}},
        )
        | validate(
            "check_claim",
            rule("positive_amount", "amount > 0.0", "amount must be positive"),
            rule("known_currency", "currency in ['USD', 'EUR', 'GBP']", "currency must be USD, EUR or GBP"),
            rule("has_policy", "size(policy_id) > 0", "a claim needs a policy id"),
            rule("has_description", "size(description) > 0", "no description given", severity="warn"),
        )
        | route("triage", auto_pay="amount_usd < 1000.0", review="true")
    )


def test_claims_in_python_equals_the_yaml_example() -> None:
    built = claims_workflow().build()
    assert built.source == "<python:claims-triage>"
    assert _same(built) == _same(load_spec(CLAIMS))


def test_pipe_returns_a_new_workflow_and_accepts_only_steps() -> None:
    base = Workflow("w", input={"amount": "double"})
    one = base | validate("check", rule("positive", "amount > 0.0"))
    assert base.steps == () and [s.name for s in one.steps] == ["check"]
    with pytest.raises(TypeError):
        _ = base | "check"  # type: ignore[operator]


def test_to_yaml_is_a_spec_the_parser_reads_back() -> None:
    wf = claims_workflow()
    assert _same(parse_spec(wf.to_yaml(), "roundtrip.yaml")) == _same(wf.build())


BRANCHES_YAML = """
workflow: claims-branches
input: {amount: double, currency: string}
steps:
  - triage:
      as: decision
      route:
        fraud_check: {when: "amount >= 50000.0", terminal: true}
        review:
          when: "amount >= 1000.0"
          steps:
            - second_look:
                validate:
                  - {id: known_currency, rule: "currency in ['USD', 'EUR']", message: unknown currency}
            - tag:
                transform:
                  set: {reviewed: {expr: "true", type: boolean}}
        auto_pay: "true"
  - settle:
      transform:
        set: {currency: "upper(currency)"}
      retry: {max_attempts: 2, backoff_ms: 10}
"""


def branches_workflow() -> Workflow:
    return (
        Workflow("claims-branches", input={"amount": "double", "currency": "string"})
        | route(
            "triage",
            {
                "fraud_check": branch("amount >= 50000.0", terminal=True),
                "review": branch(
                    "amount >= 1000.0",
                    validate(
                        "second_look",
                        rule("known_currency", "currency in ['USD', 'EUR']", "unknown currency"),
                    ),
                    transform("tag", set={"reviewed": {"expr": "true", "type": "boolean"}}),
                ),
                "auto_pay": "true",
            },
            as_field="decision",
        )
        | transform(
            "settle", set={"currency": "upper(currency)"}, retry={"max_attempts": 2, "backoff_ms": 10}
        )
    )


def test_branches_with_sub_steps_equal_the_yaml() -> None:
    built = branches_workflow().build()
    assert _same(built) == _same(parse_spec(BRANCHES_YAML, "branches.yaml"))
    triage, settle = built.steps
    assert isinstance(triage, RouteStepIR) and triage.field == "decision"
    assert [(b.name, b.terminal, [s.name for s in b.steps]) for b in triage.branches] == [
        ("fraud_check", True, []),
        ("review", False, ["second_look", "tag"]),
        ("auto_pay", False, []),
    ]
    assert isinstance(triage.branches[1].steps[1], TransformStepIR)
    assert isinstance(settle, TransformStepIR) and settle.retry.max_attempts == 2


def test_branches_compile_to_the_documented_topics() -> None:
    pipeline = compile_pipeline(branches_workflow().build())
    assert pipeline.consumers == {
        "in": "triage",
        "triage.review": "triage.review.second_look",
        "triage.review.second_look": "triage.review.tag",
        "triage": "settle",
    }
    assert pipeline.terminals == ["out", "fraud_check"]
    assert pipeline.boundaries["out"]["reviewed"].optional  # only one branch sets it: optional after the join
    assert pipeline.boundaries["triage"]["decision"].type == "string"


LLM_YAML = """
workflow: assess
input: {claim_id: string, description: string, amount: double}
steps:
  - fraud_risk:
      llm:
        when: "amount > 1000.0 || description.contains('stolen')"
        system: You assess insurance claims for fraud risk.
        prompt: "Claim {{ claim_id }}: {{ description }}"
        output: {risk: string, confidence: double}
        fallback_models: [backup-model]
        limits: {rpm: 60, tpm: 40000, max_tokens: 256}
        template_version: "2"
      retry: {max_attempts: 1, on_exhausted: default, default: {risk: unknown, confidence: 0.0}}
  - gate:
      validate:
        - {id: risk_known, rule: "risk == null || risk in ['low', 'medium', 'high', 'unknown']"}
"""


def llm_workflow() -> Workflow:
    return (
        Workflow("assess", input={"claim_id": "string", "description": "string", "amount": "double"})
        | llm(
            "fraud_risk",
            "Claim {{ claim_id }}: {{ description }}",
            {"risk": "string", "confidence": "double"},
            when="amount > 1000.0 || description.contains('stolen')",
            system="You assess insurance claims for fraud risk.",
            fallback_models=["backup-model"],
            limits={"rpm": 60, "tpm": 40000, "max_tokens": 256},
            template_version="2",
            retry={
                "max_attempts": 1,
                "on_exhausted": "default",
                "default": {"risk": "unknown", "confidence": 0.0},
            },
        )
        | validate("gate", rule("risk_known", "risk == null || risk in ['low', 'medium', 'high', 'unknown']"))
    )


def test_llm_step_equals_the_yaml() -> None:
    built = llm_workflow().build()
    assert _same(built) == _same(parse_spec(LLM_YAML, "llm.yaml"))
    step = built.steps[0]
    assert isinstance(step, LLMStepIR)
    assert [(f.name, f.type) for f in step.output] == [("risk", "string"), ("confidence", "double")]
    assert step.limits.rpm == 60 and step.limits.concurrency == 4  # given, and the default
    assert step.template_id == "fraud_risk" and step.template_version == "2"
    assert step.retry.on_exhausted == "default" and step.retry.default == {
        "risk": "unknown",
        "confidence": 0.0,
    }
    assert isinstance(built.steps[1], ValidateStepIR)


def test_llm_output_is_readable_downstream_only_after_the_step() -> None:
    wf = Workflow("early", input={"description": "string"}) | validate("gate", rule("r", "risk == 'low'"))
    with pytest.raises(SpecError) as exc:
        (wf | llm("assess", "{{ description }}", {"risk": "string"})).build()
    assert ("steps[0].gate.validate[0].rule", "reads 'risk', which is not a field at this step") in {
        (f, m) for f, m, _ in _problems(exc.value)
    }


BROKEN_YAML = """
workflow: broken
input: {amount: double, currency: string, note: text}
steps:
  - normalize:
      transform:
        set: {amount_usd: "amount * 1.1"}
  - check:
      validate:
        - {id: known_currency, rule: "curency in ['USD']"}
        - {id: positive, rule: "amount > 0.0", severity: block}
  - triage:
      route:
        small: "amount_usd < 10.0 &&"
        other: "true"
"""


def broken_workflow() -> Workflow:
    return (
        Workflow("broken", input={"amount": "double", "currency": "string", "note": "text"})
        | transform("normalize", set={"amount_usd": "amount * 1.1"})
        | validate(
            "check",
            rule("known_currency", "curency in ['USD']"),
            rule("positive", "amount > 0.0", severity="block"),
        )
        | route("triage", small="amount_usd < 10.0 &&", other="true")
    )


def test_errors_are_the_same_problems_as_in_yaml() -> None:
    with pytest.raises(SpecError) as from_yaml:
        parse_spec(BROKEN_YAML, "broken.yaml")
    with pytest.raises(SpecError) as from_python:
        broken_workflow().build()
    assert _problems(from_python.value) == _problems(from_yaml.value)
    assert len(from_python.value.problems) == 5  # all at once: type, severity, CEL syntax, new field, name
    assert all(p.file == "<python:broken>" for p in from_python.value.problems)
    text = str(from_python.value)
    assert "unknown type 'text'" in text and "did you mean 'currency'?" in text


def test_two_steps_with_one_name_are_reported() -> None:
    wf = (
        Workflow("dup", input={"amount": "double"})
        | validate("check", rule("a", "amount > 0.0"))
        | validate("check", rule("b", "amount < 10.0"))
    )
    with pytest.raises(SpecError, match="duplicate step name"):
        wf.build()


def test_a_step_is_its_spec_mapping() -> None:
    step = transform("t", set={"x": "upper(x)"}, drop=["y"], description="tidy")
    assert step == Step("t", {"transform": {"set": {"x": "upper(x)"}, "drop": ["y"]}, "description": "tidy"})
    assert step.as_spec() == {"t": step.body}
