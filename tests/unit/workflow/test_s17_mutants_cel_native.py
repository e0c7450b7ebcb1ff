"""Mutation pass over session 17's lines of workflow/cel_native.py: tests for the mutants that survived.

The generated function computes a repeated subexpression once (docs/performance.md, "Session 17: the hop").
Two subexpressions are the same only when their literals are the same CEL values: `1`, `1.0` and `true`
are three literals (cel_native._key: "with each literal's type in it"), so `x == 1` answered for an int
`x` says nothing about `x == true`, which CEL answers false (no equality across int and bool). The
expected answers are CEL's own, the library alone (the fast path off).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.cel_native import Defer, native_source
from dana_workflows.workflow.cel_parse import parse_subset, variables_of

pytestmark = pytest.mark.unit


def cel_alone(expr: CompiledExpr) -> CompiledExpr:
    return dataclasses.replace(expr, native=None, native_bound=None)


def outcome(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = expr.evaluate(scope)
    except EvaluationError:
        return ("error", None)
    return ("value", (type(value), value))


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        # CEL: 1 == true is false; a shared `x == 1` would answer the second test true
        ("x == 1 && x == true", {"x": 1}, ("value", (bool, False))),
        ("x == true && x == 1", {"x": True}, ("value", (bool, False))),
        # CEL adds no int to a double: x + 1.0 is an error for an int x, not x + 1's value
        ("(x + 1) == (x + 1.0)", {"x": 1}, ("error", None)),
    ],
)
def test_literals_of_equal_python_value_but_other_cel_type_are_not_shared(
    source: str, scope: dict[str, Any], expected: tuple[str, Any]
) -> None:
    expr = compile_expr(source)
    assert expr.native is not None  # inside the subset: the fast path answers, not CEL alone
    assert outcome(cel_alone(expr), scope) == expected  # CEL's own answer, as the comments say
    assert outcome(expr, scope) == expected
    assert expr.native_bound is not None  # the rule's path: values bound and result in one call
    try:
        _, bound = expr.native_bound(scope)
    except Defer:  # CEL decides, as evaluate() did above
        return
    assert ("value", (type(bound), bound)) == expected


def written(expression: str) -> str:
    tree = parse_subset(expression)
    assert tree is not None
    return native_source(tree, tuple(sorted(variables_of(tree))))[0]


def test_an_order_of_two_values_is_a_known_bool() -> None:
    # `x < y` orders two values of one type or defers: its result is a bool, so `||` tests it directly
    # (docs/performance.md, "Session 17: the hop": a comparison's result has a known type)
    text = written("x < y || z")
    assert "is True" not in text and "is False" not in text and "type(t1)" not in text, text
    expr = compile_expr("x < y || z")
    assert expr.native is not None
    assert expr.native({"x": 1, "y": 2, "z": False}) is True
    assert expr.native({"x": 2, "y": 1, "z": False}) is False
