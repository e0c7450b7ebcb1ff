"""The gates a rule passes before it is offered."""

from __future__ import annotations

import pytest

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
FIELDS = {
    "amount": FieldIR(name="amount", type="double"),
    "score": FieldIR(name="score", type="long"),
    "note": FieldIR(name="note", type="string", optional=True),
    "code": FieldIR(name="code", type="string"),
}


@pytest.mark.parametrize(
    "rule",
    [
        "amount > 0.0",
        "score >= 300 && score <= 850",
        "note == null || size(note) > 0",
        'code.matches("^[A-Z]{2}$")',
    ],
)
def test_valid_rules_pass(rule: str) -> None:
    assert check_rule(rule, FIELDS) == ""


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("amount >", "not a valid CEL expression"),
        ("missing > 1", "not a field"),
        ("300 <= score <= 850", "does not type-check"),
        ("amount + 1 > 0.5", "does not type-check"),
        ("amount", "not true or false"),
        ("size(note) > 0", "fails on well-typed values"),  # null is a declared value of note
        ('code.matches("[")', "fails on well-typed values"),
    ],
)
def test_invalid_rules_are_refused_with_a_reason(rule: str, why: str) -> None:
    assert why in check_rule(rule, FIELDS)
