"""Adversarial review of the CEL fast path's shared subexpressions and dropped type checks (session 17,
REVIEW-C; workflow/cel_native.py, docs/performance.md, "Session 17: the hop").

Expressions are built so that one or two drawn parts occur many times, in every position the generator
knows: both arms of nested ternaries, either side of `&&` and `||`, inside `in`, `!`, `-` and the calls,
and again after the branch that computed them. Scopes hold three variables with values of every kind CEL
binds its own way (bool against int, -0.0, infinities, NaN, the int64 edges and past them, non-ASCII, a
lone surrogate, a list, null, missing). The expected answer is the CEL library's alone; the generated
function may answer exactly that or raise `Defer` (any other exception would be a value reused where it was
never computed). The joint function of a transform step (`compile_natives`) must give each expression's own
fast-path answer, or defer where any one of them would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, ExpressionError, compile_expr
from dana_workflows.workflow.cel_native import Defer, compile_natives
from tests.unit.workflow.test_cel_native_shared import MISSING
from tests.unit.workflow.test_cel_native_shared import VALUES as SHARED_VALUES

pytestmark = pytest.mark.unit

NAMES = ("x", "y", "z")
# the shared-subexpression test's values (null, missing, bool, the int64 edge and past it, NaN, non-ASCII, a
# lone surrogate, a list) and more of the kinds CEL treats its own way
VALUES: list[Any] = [
    *SHARED_VALUES,
    -1,
    2,
    -(2**63),
    2**63,
    -0.0,
    1.0,
    2.5,
    math.inf,
    -math.inf,
    1e308,
    " a ",
    "A",
]
ATOMS = ["x", "y", "z", "0", "1", "2", "0.0", "1.0", "2.5", "'a'", "'A'", "' a '", "null", "true", "false"]
BINARY = ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "&&", "||"]


def _grow(kids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(kids, st.sampled_from(BINARY), kids).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(kids, kids, kids).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(st.sampled_from(["!", "-", "size", "upper", "lower", "trim"]), kids).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(kids, st.sampled_from(["['a', 'A']", "[1, 2]", "[0.0, 1.0]", "[true]", "[1, 'a']"])).map(
            lambda t: f"({t[0]} in {t[1]})"
        ),
    )


PARTS = st.recursive(st.sampled_from(ATOMS), _grow, max_leaves=5)


@st.composite
def repeating(draw: st.DrawFn) -> str:
    """An expression in which one or two drawn parts make up most of the leaves, wherever they fall."""
    shared = [draw(PARTS) for _ in range(draw(st.integers(1, 2)))]
    leaves = st.one_of(st.sampled_from(ATOMS), *(st.just(part) for part in shared for _ in range(3)))
    return draw(st.recursive(leaves, _grow, max_leaves=8))


SCOPE = st.tuples(*(st.sampled_from(VALUES) for _ in NAMES)).map(
    lambda vs: {n: v for n, v in zip(NAMES, vs, strict=True) if v is not MISSING}
)


def compiled(source: str) -> CompiledExpr | None:
    try:
        expr = compile_expr(source)
    except ExpressionError:
        return None
    return expr if expr.native is not None and expr.native_bound is not None else None


def answer(value: Any) -> tuple[str, Any]:
    if isinstance(value, float) and math.isnan(value):
        return ("nan", float)
    if isinstance(value, float):
        return ("value", (float, math.copysign(1.0, value), value))  # -0.0 is not 0.0 here
    return ("value", (type(value), value))


def cel_answer(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any]:
    slow = dataclasses.replace(expr, native=None, native_bound=None)
    try:
        return answer(slow.evaluate(scope))
    except EvaluationError:
        return ("error", None)


def fast_answer(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any] | None:
    """The generated function's answer, None where it deferred; any other exception fails the test."""
    assert expr.native is not None
    try:
        return answer(expr.native(scope))
    except Defer:
        return None


def check(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any] | None:
    expected = cel_answer(expr, scope)
    got = fast_answer(expr, scope)
    assert got is None or got == expected, (expr.source, scope, got, expected)
    assert expr.native_bound is not None
    try:
        values, bound = expr.native_bound(scope)
    except Defer:
        assert got is None, (expr.source, scope)  # the bound form defers exactly where the plain one does
    else:
        assert got is not None and answer(bound) == got, (expr.source, scope)
        assert values == expr.bindings(scope) and list(values) == list(expr.bindings(scope)), (
            expr.source,
            scope,
        )
    # the whole path a caller takes (fast path, then CEL) answers CEL's answer, errors included
    try:
        whole = answer(expr.evaluate(scope))
    except EvaluationError:
        whole = ("error", None)
    assert whole == expected, (expr.source, scope)
    return got


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=repeating(), scopes=st.lists(SCOPE, min_size=1, max_size=8))
def test_repeated_parts_answer_as_cel_or_defer(source: str, scopes: list[dict[str, Any]]) -> None:
    expr = compiled(source)
    if expr is None:
        return  # outside the subset: CEL alone
    for scope in scopes:
        check(expr, scope)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=st.lists(repeating(), min_size=2, max_size=4), scopes=st.lists(SCOPE, min_size=1, max_size=8))
def test_joint_function_answers_each_expressions_own_answer(
    sources: list[str], scopes: list[dict[str, Any]]
) -> None:
    exprs = [compiled(source) for source in sources]
    if any(expr is None for expr in exprs):
        return
    pairs = [(e.source, e.variables) for e in exprs if e is not None]
    together = compile_natives(pairs)
    backwards = compile_natives(pairs[::-1])  # the order of a step's `set` entries must not matter
    assert together is not None and backwards is not None  # each alone is in the subset, so all together
    for scope in scopes:
        alone = [check(e, scope) for e in exprs if e is not None]
        for joint, expected in ((together, alone), (backwards, alone[::-1])):
            try:
                values = joint(scope)
            except Defer:
                continue  # each is then evaluated alone (processors/transform.py)
            assert None not in expected, (sources, scope)  # it answered where one of them deferred
            assert [answer(v) for v in values] == expected, (sources, scope)


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        # a part computed in one arm of a ternary, needed in the other arm and after it
        ("(x > 1 ? x > 1 : !(x > 1)) && x > 1", {"x": 2}),
        ("(x > 1 ? 1 : size(y)) + size(y)", {"x": 0, "y": "ab"}),
        ("(x > 1 ? 1 : size(y)) + size(y)", {"x": 5, "y": "ab"}),
        # a type checked inside a `||` branch, needed after it, where the branch did not run
        ("(x || y == 1) && y == 1", {"x": True, "y": 1}),
        ("(x || y == 1) && y == 1", {"x": True, "y": 1.0}),
        ("(x || y == 1) && y == 1", {"x": True, "y": True}),
        # a result whose type is known (a comparison) used as a number or in `in`
        ("(x == 1) in [1]", {"x": 1}),
        ("(x == 1) + 1", {"x": 1}),
        ("size(x) == 1.0", {"x": "a"}),
        ("size(x) in [1, 2]", {"x": "a"}),
        # arithmetic results as known types: int overflow and float NaN/inf still guarded
        ("(x + 1) > 0", {"x": 2**63 - 1}),
        ("(x * 1.0) > 0.0 || (x * 1.0) <= 0.0", {"x": math.inf}),
        ("(x * 0.0) > 0.0 || (x * 0.0) <= 0.0", {"x": math.inf}),
        ("(x + 'a') < 'b'", {"x": "é"}),
        # bool as int, -0.0 as 0.0, null
        ("x == 1 ? x == 1 : x == true", {"x": True}),
        ("(x == 0.0) && (x == 0.0 ? -x : x) == 0.0", {"x": -0.0}),
        ("x == null || upper(x) == 'A'", {"x": None}),
        ("x == null || upper(x) == 'A'", {}),
    ],
)
def test_pitfalls_answer_as_cel_or_defer(source: str, scope: dict[str, Any]) -> None:
    expr = compiled(source)
    assert expr is not None, source
    check(expr, scope)
