"""Fields declared as mappings {type, min, max, sensitive, doc}; `set` entries as {expr, type, min, max}."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import TransformStepIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: loans
input:
  applicant: {type: string, sensitive: true, doc: the applicant's name}
  credit_score: {type: long, min: 300, max: 850}
  income: {type: "double?", min: 0}
steps:
  - score:
      transform:
        set:
          pct: {expr: "(credit_score - 300) * 100 / 550", type: long, min: 0, max: 100}
"""


def test_declarations_reach_the_ir() -> None:
    ir = parse_spec(SPEC)
    applicant, score, income = ir.input
    assert applicant.sensitive and applicant.doc == "the applicant's name" and not score.sensitive
    assert (score.type, score.minimum, score.maximum) == ("long", 300.0, 850.0)
    assert (income.type, income.optional, income.minimum, income.maximum) == ("double", True, 0.0, None)
    step = ir.steps[0]
    assert isinstance(step, TransformStepIR)
    assert (step.derive[0].minimum, step.derive[0].maximum) == (0.0, 100.0)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("{type: long, min: 900, max: 850}", "min 900 is above max 850"),
        ("{type: string, min: 1}", "a range needs a number type, not string"),
        ("{type: long, max: high}", "max must be a number"),
        ("{type: long, sensitive: maybe}", "must be true or false"),
        ("{type: decimal}", "unknown type 'decimal'"),
        ("{type: long, maximum: 3}", "unknown key"),
    ],
)
def test_wrong_declarations_are_named(declaration: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC.replace("{type: long, min: 300, max: 850}", declaration))
    assert message in str(info.value)
    assert "input.credit_score" in str(info.value)
