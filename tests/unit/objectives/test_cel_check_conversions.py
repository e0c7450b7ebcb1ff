"""A proposed rule is type-checked on the subset `dana-wf validate` reads (analysis.cel_types.parse_analysed:
the native subset and the conversions `int double string`, f95138a), so a conversion of a boolean is
refused with the reason and the fix validate gives, not only by a witness value failing at run time
(FIXMISC3's leftover: objectives/cel_check.py still parsed the subset without conversions)."""

from __future__ import annotations

import pytest

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

FIELDS = {
    "flag": FieldIR(name="flag", type="boolean"),
    "qty": FieldIR(name="qty", type="long"),
    "dose": FieldIR(name="dose", type="double"),
    "code": FieldIR(name="code", type="string"),
}


def test_a_conversion_of_a_boolean_is_refused_with_validates_reason_and_fix() -> None:
    with pytest.raises(EvaluationError):  # what the CEL library does with it, on any event
        compile_expr("string(flag) == 'true'").evaluate({"flag": True})
    assert check_rule("string(flag) == 'true'", FIELDS) == (
        "does not type-check: string() of bool fails on every event (flag) (fix: flag ? 'true' : 'false')"
    )


def test_a_conversion_that_is_not_a_condition_is_named_by_its_kind() -> None:
    assert check_rule("string(qty) + code", FIELDS) == "gives string, not true or false"


@pytest.mark.parametrize(
    "expr", ["double(qty) * dose <= 100.0", "int(dose) >= qty", "string(qty) != code", "int(code) > 0"]
)
def test_well_typed_conversions_are_offered(expr: str) -> None:
    assert check_rule(expr, FIELDS) == ""
