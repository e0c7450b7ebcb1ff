"""Every expression against the declared types of what it reads (analysis/typecheck.py, docs/changes.md
`type-error` / `not-analysed`): a rule or condition must give true or false, a `set` must fit its field
(numbers into numbers, anything into text), an expression outside the subset is tried on one sample event
and otherwise named as not analysed."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.sites import Role, Site
from dana_workflows.analysis.typecheck import type_findings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

FIELDS = {
    "amount": FieldIR(name="amount", type="double"),
    "n": FieldIR(name="n", type="long"),
    "s": FieldIR(name="s", type="string"),
    "b": FieldIR(name="b", type="boolean"),
}
CONVERT = "convert explicitly with int(x), double(x) or string(x), or compare values of one type"


def found(expr: str, role: Role = "rule", target: FieldIR | None = None) -> list[tuple[str, str, str]]:
    return [(f.code, f.message, f.fix) for f in type_findings(Site("k", role, expr, FIELDS, target))]


@pytest.mark.parametrize("role", ["rule", "condition", "constraint", "when"])
def test_a_boolean_role_must_give_true_or_false(role: Role) -> None:
    assert found("amount * 2.0", role) == [
        (
            "type-error",
            "'amount * 2.0' gives double, not true or false, so it never holds",
            "compare it: amount * 2.0 > 0",
        )
    ]
    assert found("upper(s)", role) == [
        ("type-error", "'upper(s)' gives string, not true or false, so it never holds", "write a comparison")
    ]
    assert found("amount > 1.0 && b", role) == []


def test_a_set_must_fit_its_field() -> None:
    double = FieldIR(name="x", type="double")
    assert found("s", "set", double) == [
        (
            "type-error",
            "'s' gives string, which cannot be stored in 'x' (double)",
            "convert it, e.g. double(...), or change the type",
        )
    ]
    assert found("b", "set", FieldIR(name="y", type="long")) == [
        (
            "type-error",
            "'b' gives bool, which cannot be stored in 'y' (long)",
            "convert it, e.g. double(...), or change the type",
        )
    ]
    assert found("n", "set", double) == []  # numbers into numbers
    assert found("amount", "set", FieldIR(name="t", type="string")) == []  # anything into text
    assert found("null", "set", double) == []
    assert found("amount > 1.0", "set") == []  # no target known: nothing to compare with


def test_a_mix_of_types_is_named_with_its_fix() -> None:
    assert found("n + 1.5 > 0.0") == [
        (
            "type-error",
            "'n + 1.5 > 0.0': cannot compute int + double in n + 1.5",
            "convert explicitly: double(n) + 1.5",
        )
    ]


def test_outside_the_subset_one_sample_event_decides_or_it_is_not_analysed() -> None:
    ((code, message, fix),) = found("s.contains(1)")
    assert code == "type-error" and fix == CONVERT
    assert message.startswith("fails on an event of the declared types: 's.contains(1)': ")
    assert found("s.size()") == [
        ("type-error", "'s.size()' gives int, not true or false", "write a comparison")
    ]
    assert found("n % 2 == 0") == [
        (
            "not-analysed",
            "'n % 2 == 0' is outside the subset the analysis reads "
            "(member calls, macros, %): its types were tried on one sample event only, "
            "and the solver treats its value as unknown",
            "",
        )
    ]
    assert [c for c, _, _ in found("s.contains('a')")] == ["not-analysed"]
