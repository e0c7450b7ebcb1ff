"""The fix for a conversion of a boolean says what to write for each conversion, as it does for
`string(flag)`: `int(flag)` is `flag ? 1 : 0`, `double(flag)` is `flag ? 1.0 : 0.0` (review of f95138a:
both got 'convert a number or text', which a boolean field cannot follow). Each written fix runs in the
CEL library and gives what the conversion was meant to."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.cel_types import BOOL, infer, parse_analysed
from dana_workflows.workflow.cel_expr import compile_expr

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "fix", "meant"),
    [
        ("int(flag)", "flag ? 1 : 0", {True: 1, False: 0}),
        ("double(flag)", "flag ? 1.0 : 0.0", {True: 1.0, False: 0.0}),
        ("string(flag)", "flag ? 'true' : 'false'", {True: "true", False: "false"}),
    ],
)
def test_the_fix_for_a_boolean_is_the_conditional_that_runs(
    expr: str, fix: str, meant: dict[bool, object]
) -> None:
    tree = parse_analysed(expr)
    assert tree is not None
    [problem] = infer(tree, {"flag": BOOL})[1]
    assert problem.fix == fix
    for value, expected in meant.items():
        result = compile_expr(fix).evaluate({"flag": value})
        assert result == expected and type(result) is type(expected)


def test_a_compound_boolean_is_wrapped_so_the_fix_means_the_same() -> None:
    tree = parse_analysed("int(c ? x : y) == 1")
    assert tree is not None
    [problem] = infer(tree, {"c": BOOL, "x": BOOL, "y": BOOL})[1]
    assert problem.fix == "(c ? x : y) ? 1 : 0"
    # unwrapped, CEL reads 'c ? x : y ? 1 : 0' as 'c ? x : (y ? 1 : 0)': a boolean when c holds
    scope = {"c": True, "x": True, "y": False}
    assert compile_expr(problem.fix).evaluate(scope) == 1
    assert compile_expr("c ? x : y ? 1 : 0").evaluate(scope) is True
