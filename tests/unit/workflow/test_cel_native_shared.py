"""The generated CEL functions compute a repeated subexpression once, and leave out the checks whose answer
is known when the source is written (workflow/cel_native.py, docs/performance.md, "Session 17: the hop").

The expected answers are CEL's own (the library alone, `native` off), on expressions that repeat their parts
inside and outside branches, for values of every kind, null and missing ones included; the generated
function itself may only answer CEL's answer or raise Defer (a wrongly shared value would raise a NameError
that `evaluate` would hide by asking CEL).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dana_workflows.processors.rules import CompiledRule
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.cel_native import Defer, native_source
from dana_workflows.workflow.cel_parse import parse_subset, variables_of
from dana_workflows.workflow.ir import RuleIR

pytestmark = pytest.mark.unit

MISSING = object()
VALUES: list[Any] = [
    MISSING,
    None,
    True,
    False,
    0,
    1,
    2**63 - 1,
    2**70,
    0.0,
    1.5,
    math.nan,
    "",
    " eur ",
    "a",
    "B",
    "é",
    "\ud800",
    [1],
]
ATOMS = ["x", "y", "1", "1.5", "'a'", "null", "true", "false"]
BINARY = ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "&&", "||"]


def _grow(kids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(kids, st.sampled_from(BINARY), kids).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(kids, kids, kids).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(st.sampled_from(["!", "-", "size", "upper", "trim"]), kids).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        kids.map(lambda k: f"({k} in ['a', 'B'])"),
        kids.map(lambda k: f"({k} in [1, 2])"),
    )


PARTS = st.recursive(st.sampled_from(ATOMS), _grow, max_leaves=4)


@st.composite
def repeating(draw: st.DrawFn) -> str:
    """An expression that holds one drawn part several times, in and around branches."""
    shared = draw(PARTS)
    pool = st.one_of(st.sampled_from(ATOMS), st.just(shared), st.just(shared))
    return draw(st.recursive(pool, _grow, max_leaves=6))


def cel_only(expr: CompiledExpr) -> CompiledExpr:
    return dataclasses.replace(expr, native=None, native_bound=None)


def answer(value: Any) -> tuple[str, Any]:
    if isinstance(value, float) and math.isnan(value):
        return ("nan", float)
    return ("value", (type(value), value))


def cel_answer(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        return answer(expr.evaluate(scope))
    except EvaluationError as exc:
        return ("error", str(exc))


SCOPES = st.lists(
    st.tuples(st.sampled_from(VALUES), st.sampled_from(VALUES)).map(
        lambda xy: {n: v for n, v in zip(("x", "y"), xy, strict=True) if v is not MISSING}
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=repeating(), scopes=SCOPES)
def test_the_generated_function_answers_as_cel_or_defers(source: str, scopes: list[dict[str, Any]]) -> None:
    expr = compile_expr(source)
    if expr.native is None or expr.native_bound is None:
        return  # outside the subset (or deeper than Python nests): CEL alone, nothing to compare
    slow = cel_only(expr)
    for scope in scopes:
        expected = cel_answer(slow, scope)
        assert cel_answer(expr, scope) == expected, (source, scope)
        try:
            got = expr.native(scope)
        except Defer:
            pass  # CEL decides, as above
        else:
            assert answer(got) == expected, (source, scope)
        try:
            values, bound = expr.native_bound(scope)
        except Defer:
            continue
        assert answer(bound) == expected, (source, scope)
        assert list(values.items()) == list(slow.bindings(scope).items()), (source, scope)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=repeating(), scopes=SCOPES)
def test_a_rule_records_the_same_with_and_without_the_fast_path(
    source: str, scopes: list[dict[str, Any]]
) -> None:
    rule = CompiledRule.of(RuleIR(id="r", expr=source, message="no"), "s")
    slow = dataclasses.replace(rule, expr=cel_only(rule.expr))
    for scope in scopes:
        assert repr(rule.check(scope)) == repr(slow.check(scope)), (source, scope)


NORMALIZE = (  # the claims example's amount_usd
    "upper(trim(currency)) == 'EUR' ? amount * 1.1 "
    ": (upper(trim(currency)) == 'GBP' ? amount * 1.25 : amount)"
)


def written(expression: str, bound: bool = False) -> str:
    tree = parse_subset(expression)
    assert tree is not None
    return native_source(tree, tuple(sorted(variables_of(tree))), bound=bound)[0]


def test_a_repeated_subexpression_is_computed_once() -> None:
    text = written(NORMALIZE)
    assert text.count(".strip()") == 1 and text.count(".upper()") == 1, text
    # the same currency, both conditions: CEL's answers
    fast = compile_expr(NORMALIZE)
    for currency, amount, expected in [(" gbp ", 10.0, 12.5), ("eur", 10.0, 11.0), ("USD", 10.0, 10.0)]:
        assert fast.native({"currency": currency, "amount": amount}) == pytest.approx(expected)


def test_a_value_from_a_branch_is_not_reused_after_it() -> None:
    # `size(y) > 0` runs inside the `||`'s right branch first; after the `||` it must run again
    source = "(x || size(y) > 0) && size(y) > 0"
    text = written(source)
    assert text.count("len(v1)") == 2, text
    fast = compile_expr(source)
    assert fast.native({"x": True, "y": "ab"}) is True
    assert fast.native({"x": True, "y": ""}) is False


def test_a_known_type_is_not_checked_per_event() -> None:
    # a comparison is a bool, `size` an int: the conditions test them directly
    text = written("size(x) > 0 ? (x == 'a' || x == 'b') : false")
    assert "is True" not in text and "is False" not in text and "is not bool" not in text, text
    assert "type(t1)" not in text, text  # len's result against the int literal


def test_the_values_are_one_dict_display_where_every_variable_is_present() -> None:
    text = written("size(policy_id) > 0", bound=True)
    assert "return {'policy_id': v0}, t2" in text and "_MISSING else" not in text, text
    # amount is read in branches only: one display if it is present, else one store each
    text = written(NORMALIZE, bound=True)
    assert "if v0 is not _MISSING:\n        return {'amount': v0, 'currency': v1}, t" in text, text
    fast = compile_expr(NORMALIZE)
    assert fast.native_bound is not None
    with pytest.raises(Defer):  # amount missing where it is read: CEL reports it
        fast.native_bound({"currency": "EUR"})


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        # a non-bool into `||`/`&&`/`?:`: CEL's error (or its commutative answer), never Python's truthiness
        ("x || y", {"x": 1, "y": False}),
        ("x && y", {"x": 1, "y": True}),
        ("x ? 1 : 2", {"x": "a"}),
        ("(x == 1) || y", {"x": 1, "y": 2}),
        # a type checked inside a branch is not known after it: `true == 1` is Python's True, CEL's false
        ("(y ? x == 1 : true) && x == 1", {"x": True, "y": False}),
        ("(y ? x < 2 : true) && x < 2", {"x": 1.5, "y": False}),
        ("(y || size(x) > 0) && size(x) > 0", {"x": 1, "y": True}),
        # a value computed in one branch of a conditional, needed in the other
        ("y ? upper(x) == 'A' : upper(x) == 'B'", {"x": "b", "y": False}),
        ("y ? size(x) : size(x) + 1", {"x": "ab", "y": False}),
    ],
)
def test_what_the_function_leaves_out_is_what_it_knows(source: str, scope: dict[str, Any]) -> None:
    expr = compile_expr(source)
    assert expr.native is not None
    expected = cel_answer(cel_only(expr), scope)
    try:
        got = expr.native(scope)
    except Defer:
        return
    assert answer(got) == expected


def test_a_known_type_still_defers_on_what_cel_will_not_order() -> None:
    # x checked as a double once; the second comparison still leaves a NaN to CEL
    text = written("x > 1.5 && x < 2.5")
    assert text.count("type(v0) is not") == 1 and text.count("v0 != v0") == 2, text
    expr = compile_expr("x > 1.5 && x < 2.5")
    assert expr.native is not None
    assert expr.native({"x": 2.0}) is True and expr.native({"x": 3.0}) is False
    with pytest.raises(Defer):
        expr.native({"x": math.nan})
