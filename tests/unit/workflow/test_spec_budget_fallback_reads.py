"""validate names the answer fields a budget fallback leaves null that a later rule reads (newcomer5 N5-11):
the budget-refused events would otherwise fail that rule at run time, every one of them."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: tickets
input:
  text: string
  amount: double
steps:
  - classify:
      llm:
        prompt: "Classify {{ text }}"
        output: {category: string, credit_usd: double}
        efficiency:
          budget: {tokens_per_hour: 3000, fallback: FALLBACK}
  - triage:
      route:
        urgent: "category == 'outage'"
        manual: {when: "CREDIT_RULE", terminal: true}
        normal: {when: "true"}
"""


def _spec(fallback: str, rule: str = "credit_usd > amount") -> str:
    return SPEC.replace("FALLBACK", fallback).replace("CREDIT_RULE", rule)


def test_a_rule_reading_a_field_the_fallback_leaves_null_is_refused_with_the_fix() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_spec("{category: other}"), "t.yaml")
    [problem] = info.value.problems  # category is set by the fallback: only credit_usd is named
    assert problem.field == "steps[1].triage.route.manual"
    assert problem.line == 12  # the route step's line, where every route read is reported
    assert "'credit_usd'" in problem.message and "steps[0].classify" in problem.message
    assert "set credit_usd in steps[0].classify.llm.efficiency.budget.fallback" in problem.fix
    assert "credit_usd != null" in problem.fix


@pytest.mark.parametrize(
    ("fallback", "rule"),
    [
        ("{category: other, credit_usd: 0.0}", "credit_usd > amount"),  # the fallback sets it
        ("{category: other}", "credit_usd != null && credit_usd > amount"),  # the rule guards it
    ],
)
def test_a_fallback_that_sets_the_field_or_a_guarded_rule_passes(fallback: str, rule: str) -> None:
    assert parse_spec(_spec(fallback, rule), "t.yaml").name == "tickets"


def test_a_field_set_again_by_a_later_step_is_not_reported() -> None:
    text = _spec("{category: other}").replace(
        "  - triage:",
        "  - fill:\n      transform:\n"
        '        set: {credit_usd: "credit_usd == null ? 0.0 : credit_usd"}\n'
        "  - triage:",
    )
    assert parse_spec(text, "t.yaml").name == "tickets"


KNOWLEDGE_SPEC = """\
workflow: tickets
input:
  plan: string
  text: string
knowledge:
  sources:
    - {id: sla, kind: files, path: kb/policies, trust: 0.95, shape: [plan, max_credit_usd]}
steps:
  - classify:
      llm:
        prompt: "Classify {{ text }}"
        output: {category: string}
        knowledge:
          budget: BUDGET
          require:
            - id: sla_terms
              source: sla
              where: {plan: plan}
              expose: {max_credit: {meta: max_credit_usd, type: double}}
        efficiency:
          budget: {tokens_per_hour: 3000, fallback: {category: other}}
  - check:
      validate:
        - {id: bounded, rule: "max_credit > 0.0"}
"""


def test_a_knowledge_fact_is_left_null_by_the_fallback_and_its_fix_is_the_guard() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(KNOWLEDGE_SPEC.replace("BUDGET", "800"), "t.yaml")
    [problem] = info.value.problems
    assert problem.field == "steps[1].check.validate[0].rule"
    assert "'max_credit'" in problem.message and "knowledge" in problem.message
    assert problem.fix.startswith("guard the rule: 'max_credit != null")  # a fallback sets output fields only


def test_a_dropped_llm_steps_exposed_fact_is_not_reported_again() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(KNOWLEDGE_SPEC.replace("BUDGET", "0"), "t.yaml")
    assert [p.field for p in info.value.problems] == ["steps[0].classify.llm.knowledge.budget"]
