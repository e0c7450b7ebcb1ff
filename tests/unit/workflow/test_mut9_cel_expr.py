"""Compiled CEL expressions (docs/expressions.md): the four extra functions as documented, with and without
the Python fast path; the fields an expression reads (a macro's own variable is not one); the values bound
for rule results; errors that name the expression and the missing fields; Python habits refused with what
to write instead."""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.workflow.cel_expr import (
    EvaluationError,
    ExpressionError,
    compile_expr,
    macro_bound_names,
    native_enabled,
)

pytestmark = pytest.mark.unit


@pytest.fixture(params=["1", "0"], ids=["native", "cel-only"])
def native(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DWF_CEL_NATIVE", str(request.param))
    return str(request.param)


@pytest.mark.parametrize(
    ("expr", "scope", "value"),
    [
        ("upper(' eur ')", {}, " EUR "),
        ("lower('EUR')", {}, "eur"),
        ("upper(trim(currency))", {"currency": " eur "}, "EUR"),
        ("round2(10.0 / 3.0)", {}, 3.33),
        ("round2(qty)", {"qty": 7}, 7.0),
        ("upper(channel)", {"channel": None}, None),
        ("lower(channel)", {"channel": None}, None),
        ("trim(channel)", {"channel": None}, None),
        ("channel == null ? 'unknown' : upper(channel)", {"channel": None}, "unknown"),
    ],
)
def test_the_extra_functions_as_documented(native: str, expr: str, scope: dict[str, Any], value: Any) -> None:
    assert compile_expr(expr).evaluate(scope) == value


def test_round2_of_null_is_an_error(native: str) -> None:
    with pytest.raises(EvaluationError):
        compile_expr("round2(x)").evaluate({"x": None})


def test_the_fast_path_follows_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for off in ("0", "false", "no"):
        monkeypatch.setenv("DWF_CEL_NATIVE", off)
        assert native_enabled() is False and compile_expr("a > 1").native is None
    for on in ("1", "", "yes"):
        monkeypatch.setenv("DWF_CEL_NATIVE", on)
        assert native_enabled() is True and compile_expr("a > 1").native is not None
    monkeypatch.delenv("DWF_CEL_NATIVE")
    assert native_enabled() is True


def test_a_macros_own_variable_is_not_a_field_read() -> None:
    assert macro_bound_names("tags.exists(t, t == 'x') && xs.all( y , y > 0)") == frozenset({"t", "y"})
    assert macro_bound_names("amount > 0.0") == frozenset()
    expr = compile_expr("tags.exists(t, t == limit)")
    assert set(expr.fields_read) == {"tags", "limit"}
    assert set(compile_expr("a + b > c").fields_read) == {"a", "b", "c"}


def test_the_values_bound_for_rule_results(native: str) -> None:
    one = compile_expr("amount > 0.0")
    assert one.bindings({"amount": 2.0, "other": 1}) == {"amount": 2.0}
    assert one.bindings({"other": 1}) == {}
    two = compile_expr("amount > limit")
    assert two.bindings({"amount": 2.0, "limit": 1.0, "x": 0}) == {"amount": 2.0, "limit": 1.0}
    assert two.bindings({"limit": 1.0}) == {"limit": 1.0}
    assert two.evaluate_bound({"amount": 2.0, "limit": 1.0}, {"amount": 2.0, "limit": 1.0}) is True


def test_an_error_names_the_expression_and_the_missing_fields(native: str) -> None:
    with pytest.raises(EvaluationError) as info:
        compile_expr("amount > limit").evaluate({"limit": 1.0})
    message = str(info.value)
    assert message.startswith("'amount > limit': ") and message.endswith(" (missing: amount)")
    with pytest.raises(EvaluationError) as info:
        compile_expr("1 / n > 0").evaluate({"n": 0})
    assert str(info.value).startswith("'1 / n > 0': ") and "missing" not in str(info.value)


def test_python_habits_are_refused_with_what_to_write() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expr("not (a > b)")
    assert (
        str(info.value)
        == "not a valid CEL expression: CEL writes 'not x' as '!x' (and 'not (a > b)' as '!(a > b)')"
    )
    with pytest.raises(ExpressionError) as info:
        compile_expr("a and b")
    assert str(info.value).startswith(
        "not a valid CEL expression: CEL writes 'and' as '&&' (parser: Failed to parse"
    )
    with pytest.raises(ExpressionError) as info:
        compile_expr("amount >")
    message = str(info.value)
    assert message.startswith("not a valid CEL expression: ") and "\n" not in message
