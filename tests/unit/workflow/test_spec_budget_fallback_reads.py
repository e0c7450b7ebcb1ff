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
