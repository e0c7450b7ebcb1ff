"""The CEL fast path at the edges where a comparison flips: below, at and above, for every ordering and
equality operator and every type the fast path answers itself (int, double, ASCII string).

The expected answers are the operators' meaning (CEL spec: ordering on numbers and on strings by code
point), written out here, and the CEL library must agree with them too: the grid of
test_cel_native.py never puts two equal values on both sides of `<=` behind an `||` whose left side is
false, so `amount_usd <= policy_limit` at exactly the limit was never tried.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.cel_native import Defer

pytestmark = pytest.mark.unit

# (left, right) pairs with left below, equal to and above right, per type the fast path answers
PAIRS: dict[str, list[tuple[Any, Any]]] = {
    "int": [(9, 10), (10, 10), (11, 10), (-(2**63), 2**63 - 1)],
    "double": [(999.99, 1000.0), (1000.0, 1000.0), (1000.01, 1000.0), (-0.0, 0.0)],
    "string": [("abc", "abd"), ("abc", "abc"), ("abd", "abc"), ("Z", "a"), ("", "a")],
}
MEANING = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a < b or a == b,
    ">": lambda a, b: b < a,
    ">=": lambda a, b: b < a or a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
CASES = [(op, kind, a, b) for op in MEANING for kind, pairs in PAIRS.items() for a, b in pairs]


def both_paths(source: str, scope: dict[str, Any]) -> tuple[Any, Any]:
    fast = compile_expr(source)
    assert fast.native is not None, f"{source} should run on the fast path"
    return fast.native(scope), dataclasses.replace(fast, native=None).evaluate(scope)


@pytest.mark.parametrize(("op", "kind", "a", "b"), CASES)
def test_each_comparison_at_below_and_above_the_boundary(op: str, kind: str, a: Any, b: Any) -> None:
    expected = MEANING[op](a, b)
    assert both_paths(f"x {op} y", {"x": a, "y": b}) == (expected, expected), kind


@pytest.mark.parametrize(
    ("amount", "expected"), [(999.5, True), (1000.0, True), (1000.5, False)], ids=["below", "at", "above"]
)
def test_within_limit_at_exactly_the_limit(amount: float, expected: bool) -> None:
    """The claims example's objective: an auto-paid claim may be paid up to and including its limit."""
    source = "route != 'auto_pay' || amount_usd <= policy_limit"
    scope = {"route": "auto_pay", "amount_usd": amount, "policy_limit": 1000.0}
    assert both_paths(source, scope) == (expected, expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x >= 10 && x <= 10", True),
        ("x > 10 || x < 10", False),
        ("!(x < 10) && !(x > 10)", True),
        ("x <= 10 ? 'in' : 'out'", "in"),
        ("x < 10 ? 'in' : 'out'", "out"),
    ],
)
def test_equal_operands_through_logic_and_conditionals(source: str, expected: Any) -> None:
    assert both_paths(source, {"x": 10}) == (expected, expected)


def cel_outcome(source: str, scope: dict[str, Any], native: bool) -> tuple[str, Any]:
    """The value, or the error's type and message: the two paths must give the same of either."""
    expr = compile_expr(source)
    assert expr.native is not None, f"{source} should run on the fast path"
    if not native:
        expr = dataclasses.replace(expr, native=None)
    try:
        value = expr.evaluate(scope)
    except Exception as exc:
        return (type(exc).__name__, str(exc))
    return ("nan", None) if value != value else ("value", value)  # NaN is not equal to itself


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@pytest.mark.parametrize(
    ("a", "b"),
    [(7, 2), (7, 0), (-(2**63), 1), (2**63 - 1, 1), (7.5, 2.0), (7.5, 0.0), (-0.0, 0.0), (0.0, 0.0)],
)
def test_arithmetic_at_zero_and_the_int64_limits(op: str, a: Any, b: Any) -> None:
    """Division by zero, overflow past int64 and signed zeros: CEL's answer or error, on both paths."""
    scope = {"x": a, "y": b}
    assert cel_outcome(f"x {op} y", scope, native=True) == cel_outcome(f"x {op} y", scope, native=False)


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        ("x + y", {"x": 7, "y": 2}, 9),
        ("x - y", {"x": 7, "y": 2}, 5),
        ("x * y", {"x": 7, "y": -2}, -14),
        ("x + y", {"x": 7.5, "y": 2.0}, 9.5),
        ("x - y", {"x": 7.5, "y": 2.0}, 5.5),
        ("x * y", {"x": 7.5, "y": 2.0}, 15.0),
        ("x / y", {"x": 7.5, "y": 2.0}, 3.75),
        ("x + y", {"x": "ab", "y": "cd"}, "abcd"),
        ("-x", {"x": 3}, -3),
        ("-x", {"x": 2.5}, -2.5),
    ],
)
def test_the_fast_path_answers_certain_arithmetic_itself(
    source: str, scope: dict[str, Any], expected: Any
) -> None:
    """The closure itself, not the library behind it: a fast path that always deferred would be slow."""
    native = compile_expr(source).native
    assert native is not None
    got = native(scope)
    assert (type(got), got) == (type(expected), expected)


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        ("x / y", {"x": 7, "y": 2}),  # int division truncates in CEL
        ("x / y", {"x": 7.5, "y": 0.0}),  # CEL's answer for a zero divisor
        ("x + y", {"x": 7, "y": 2.0}),  # CEL does not mix int and double
        ("x + y", {"x": 2**63 - 1, "y": 1}),  # overflow is CEL's error
        ("x - y", {"x": "a", "y": "b"}),  # no string subtraction
    ],
)
def test_the_fast_path_defers_what_it_cannot_vouch_for(source: str, scope: dict[str, Any]) -> None:
    native = compile_expr(source).native
    assert native is not None
    with pytest.raises(Defer):
        native(scope)
