"""The Python fast path for simple CEL expressions gives exactly what the CEL library gives.

Every expression is evaluated on a grid of values (nulls, wrong types, NaN, overflow, non-ASCII,
missing variables) both ways; results, result types and error messages must match.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pytest

from dana_workflows.processors.rules import CompiledRule
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.cel_native import Defer, compile_native, native_function, native_source
from dana_workflows.workflow.cel_parse import parse_subset, variables_of
from dana_workflows.workflow.ir import RuleIR

pytestmark = pytest.mark.unit

CLAIMS_EXPRESSIONS = [
    "upper(trim(currency))",
    "upper(trim(currency)) == 'EUR' ? amount * 1.1 "
    ": (upper(trim(currency)) == 'GBP' ? amount * 1.25 : amount)",
    "amount > 0.0",
    "currency in ['USD', 'EUR', 'GBP']",
    "size(policy_id) > 0",
    "amount_usd < 1000.0",
    "true",
    "route != 'auto_pay' || amount_usd <= policy_limit",
]

MORE_EXPRESSIONS = [
    "x",
    "-x",
    "!x",
    "x == y",
    "x != y",
    "x < y",
    "x >= y",
    "x + y",
    "x - y",
    "x * y",
    "x / y",
    "x && y",
    "x || y",
    "x ? y : 'no'",
    "lower(x)",
    "trim(x) == ''",
    "size(x)",
    "x in [1, 2, 3]",
    "x in ['a', 'b']",
    "x in [1, 'a']",
    "x == null",
    "-1 - x",
    "x * 2 > y",
    "!(x < y) && size(y) > 0",
    # a comparison with a literal (cel_native._Writer.against_literal), each relation and side, at the grid's
    # own values (1, 1.5, 'a', null), so a flipped or mirrored relation answers differently from CEL
    "x > 1.5",
    "x >= 1.5",
    "x < 1",
    "x <= 1",
    "1.5 < x",
    "1.5 <= x",
    "1 > x",
    "1 >= x",
    "x < 'b'",
    "'a' >= x",
    "x > 'é'",  # a literal CEL orders by code point, not ASCII: the general path
    "x == 'a'",
    "'a' != x",
    "x == 1.5",
    "1 == x",
    "x != true",
    "null == x",
    "size(x) >= 1",
    "upper(lower(x))",  # two string calls: the order matters
    "lower(trim(x)) == 'a'",
    # arithmetic with a literal side (its type fixed when the function is written), each type and side
    "x * 2.5",
    "2 - x",
    "x / 2.0",
    "1.5 / x",
    "x / 2",
    "x + 'a'",
    "x + true",
    "x - 'a'",
    "null + x",
    "x + 1.5 > y",
]

MISSING = object()  # the variable is left out of the scope

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -3,
    2**63 - 1,
    -(2**63),
    2**70,
    0.0,
    -0.0,
    1.5,
    1e308,
    math.nan,
    math.inf,
    "",
    " eur ",
    "GBP",
    "a",
    "straße",
    "é",
    "\ud800",  # a lone surrogate: CEL cannot convert it
    b"ab",
    [1],
    MISSING,
]


def outcome(expr: CompiledExpr, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = expr.evaluate(scope)
    except EvaluationError as exc:
        return ("error", str(exc))
    if isinstance(value, float) and math.isnan(value):
        return ("nan", type(value))
    return ("value", (type(value), value))


def cel_only(expr: CompiledExpr) -> CompiledExpr:
    return dataclasses.replace(expr, native=None, native_bound=None)


def scopes(names: tuple[str, ...]) -> list[dict[str, Any]]:
    grid = VALUES if len(names) <= 2 else [*VALUES[::3], MISSING]  # VALUES[0] is None
    out = []
    for combo in itertools.product(grid, repeat=len(names)):
        out.append({n: v for n, v in zip(names, combo, strict=True) if v is not MISSING})
    return out


@pytest.mark.parametrize("source", CLAIMS_EXPRESSIONS + MORE_EXPRESSIONS)
def test_same_result_and_error_as_cel(source: str) -> None:
    fast = compile_expr(source)
    assert fast.native is not None, "the expression should be in the native subset"
    slow = cel_only(fast)
    for scope in scopes(fast.variables):
        assert outcome(fast, scope) == outcome(slow, scope), scope


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        ("upper(trim(currency))", {"currency": " eur "}, "EUR"),
        ("upper(trim(currency))", {"currency": None}, None),
        ("amount > 0.0", {"amount": 12.5}, True),
        ("currency in ['USD', 'EUR', 'GBP']", {"currency": "CHF"}, False),
        ("size(policy_id) > 0", {"policy_id": "P-1"}, True),
        ("route != 'auto_pay' || amount_usd <= policy_limit", {"route": "auto_pay"}, None),
        (
            "route != 'auto_pay' || amount_usd <= policy_limit",
            {"route": "auto_pay", "amount_usd": 5.0, "policy_limit": 10.0},
            True,
        ),
        ("true || x", {}, True),
    ],
)
def test_native_answers_the_common_cases_itself(source: str, scope: dict[str, Any], expected: Any) -> None:
    native = compile_expr(source).native
    assert native is not None
    if expected is None and "route" in scope:  # a missing variable is CEL's to report
        with pytest.raises(Defer):
            native(scope)
        return
    assert native(scope) == expected


@pytest.mark.parametrize(
    "scope",
    [
        {"amount": 5.0},
        {"amount": -1.0},
        {"amount": None},
        {"amount": 3},
        {"amount": "x"},
        {},
    ],
)
def test_rule_results_record_the_same_values_and_messages(scope: dict[str, Any]) -> None:
    rule = CompiledRule.of(RuleIR(id="positive", expr="amount > 0.0", message="must be positive"), "s")
    assert rule.expr.native is not None
    slow = dataclasses.replace(rule, expr=cel_only(rule.expr))
    assert rule.check(scope) == slow.check(scope)


@pytest.mark.parametrize(
    "source",
    ["has(x.y)", "x.size() > 0", "1u + x", "x % 2", "b'ab' == x", "'a\\'b' == x", "x[0] == 1", "round2(x)"],
)
def test_outside_the_subset_runs_on_cel_alone(source: str) -> None:
    assert parse_subset(source) is None
    assert compile_expr(source).native is None


def test_a_variable_list_that_disagrees_with_cel_gets_no_fast_path() -> None:
    assert compile_native("x > 1", ("x", "y")) is None


def test_the_fast_path_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_CEL_NATIVE", "0")
    assert compile_expr("x > 1").native is None


def test_each_deferral_is_a_fresh_exception() -> None:
    # a shared instance would collect every raise's frames in its __traceback__ (a leak)
    native = compile_expr("x > 0.0").native
    assert native is not None
    caught = []
    for _ in range(2):
        with pytest.raises(Defer) as info:
            native({"x": None})
        caught.append(info.value)
    assert caught[0] is not caught[1]


def source_of(expression: str) -> str:
    tree = parse_subset(expression)
    assert tree is not None
    return native_source(tree, tuple(sorted(variables_of(tree))))[0]


@pytest.mark.parametrize(
    ("source", "written"),
    [
        # a literal side: the operand's type checked against the literal's, fixed when the source is written
        ("x > 1.5", "t1 = v0 > k0"),
        ("1 >= x", "t1 = v0 <= k0"),  # mirrored: `1 >= x` is `x <= 1`
        ("x == 'a'", "t1 = v0 == k0"),
        ("null != x", "t1 = not (v0 == k0)"),
        ("x * 2.5", "t1 = v0 * k0"),
        ("2 - x", "t1 = k0 - v0"),
        # the general checks, written out for both sides
        ("x > 'é'", "kind is str and v0.isascii() and k0.isascii()"),  # not ASCII: the general comparison
        ("x < y", "kind is str and v0.isascii() and v1.isascii()"),
        ("x * y", "elif kind is int:"),
        ("upper(trim(x))", "t2 = t1.upper()"),
        ("size(trim(x))", "t2 = len(t1)"),
    ],
)
def test_each_form_is_written_as_its_own_statements(source: str, written: str) -> None:
    # the grid above compares these with CEL; this says which form it compared
    assert written in source_of(source)


def test_a_literal_side_is_not_type_checked_per_event() -> None:
    text = source_of("x > 1.5")
    assert "type(k0)" not in text and "kind is type(" not in text
    assert "type(k0)" not in source_of("x * 1.1")


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        ("x > 1.5", {"x": 1.5}, False),
        ("x >= 1.5", {"x": 1.5}, True),
        ("1.5 < x", {"x": 2.0}, True),
        ("1.5 < x", {"x": 1.0}, False),
        ("1.5 <= x", {"x": 1.5}, True),
        ("2 > x", {"x": 1}, True),
        ("2 > x", {"x": 3}, False),
        ("'b' >= x", {"x": "a"}, True),
        ("x == 'a'", {"x": "a"}, True),
        ("'a' != x", {"x": "a"}, False),
    ],
)
def test_literal_comparisons_answer_natively(source: str, scope: dict[str, Any], expected: bool) -> None:
    native = compile_expr(source).native
    assert native is not None
    assert native(scope) is expected


def test_the_guard_defers_on_what_cel_converts_its_own_way() -> None:
    one, two = compile_native("x > 1", ("x",)), compile_native("x > y", ("x", "y"))
    assert one is not None and two is not None
    for value in ("\ud800", 2**63, b"x", [1]):  # what CEL converts its own way, or not at all
        with pytest.raises(Defer):
            one({"x": value})
        with pytest.raises(Defer):  # also a variable the expression's answer does not need yet
            two({"x": 2, "y": value})
    assert one({"x": 2}) is True
    assert one({"x": 2**63 - 1}) is True  # the int64 bounds themselves are plain values: no deferral
    low = compile_native("x < 1", ("x",))
    assert low is not None and low({"x": -(2**63)}) is True
    either = compile_native("true || x", ("x",))
    assert either is not None
    with pytest.raises(Defer):  # CEL converts every bound variable first, even one `||` never reads
        either({"x": "\ud800"})


def test_two_string_calls_answer_natively_and_keep_null() -> None:
    native = compile_expr("upper(trim(x))").native
    assert native is not None
    assert native({"x": " eur "}) == "EUR"
    assert native({"x": None}) is None  # null through both calls, without asking CEL
    with pytest.raises(Defer):
        native({"x": 3})


def test_a_literal_of_another_type_keeps_the_general_checks() -> None:
    # the parser makes no such literal today; were it to, the general checks decide as before
    equality = native_function(("op", "==", ("var", "x"), ("lit", b"a")), ("x",), "bytes")
    order = native_function(("op", "<", ("lit", b"a"), ("var", "x")), ("x",), "bytes")
    for native in (equality, order):
        with pytest.raises(Defer):  # CEL decides bytes
            native({"x": b"a"})


def test_a_double_divided_by_a_literal_side_answers_natively_except_by_zero() -> None:
    native = compile_native("1.5 / x", ("x",))
    assert native is not None
    assert native({"x": 1.0}) == 1.5
    assert native({"x": 0.5}) == 3.0
    with pytest.raises(Defer):  # CEL's division by zero is CEL's to report
        native({"x": 0.0})
    with pytest.raises(Defer):  # an int divided by a double: CEL does not mix them
        native({"x": 1})


@pytest.mark.parametrize("source", CLAIMS_EXPRESSIONS + MORE_EXPRESSIONS)
def test_the_bound_form_returns_the_bindings_and_the_fast_answer(source: str) -> None:
    # CompiledRule.check takes (values, answer) from native_bound in one call: the values must be what
    # bindings() gives (the same keys in the same order, the same objects) and the answer the fast path's
    expr = compile_expr(source)
    assert expr.native is not None and expr.native_bound is not None
    for scope in scopes(expr.variables):
        values = expr.bindings(scope)
        try:
            expected = expr.native(values)
        except Exception as exc:
            with pytest.raises(type(exc)):
                expr.native_bound(scope)
            continue
        got_values, got = expr.native_bound(scope)
        assert list(got_values.items()) == list(values.items()), scope
        assert type(got) is type(expected) and (got == expected or (got != got and expected != expected)), (
            scope
        )


@pytest.mark.parametrize("source", CLAIMS_EXPRESSIONS + MORE_EXPRESSIONS)
def test_a_rule_checks_alike_with_and_without_the_fast_path(source: str) -> None:
    # every result a rule records (passed, message, values: also a non-bool answer's message and an error's)
    rule = CompiledRule.of(RuleIR(id="r", expr=source, message="no"), "s")
    slow = dataclasses.replace(rule, expr=cel_only(rule.expr))
    for scope in scopes(rule.expr.variables):
        assert repr(rule.check(scope)) == repr(slow.check(scope)), scope


@pytest.mark.parametrize(
    "source",
    [
        # 49 right-nested `||`/`?:` pairs: one Python block each, past Python's 100 levels of indentation
        "x || (x ? " * 49 + "y" + " : false)" * 49,
        # a flat chain of 500 terms: the subset's parser and variable walk recurse past Python's limit
        " || ".join(["x"] * 500),
    ],
)
def test_an_expression_too_deep_for_python_runs_on_cel_alone(source: str) -> None:
    """CEL accepts these; the fast path cannot be written for them, so the expression still compiles and
    answers from the CEL library instead of failing the spec with a traceback."""
    assert compile_native(source, ("x", "y") if "?" in source else ("x",)) is None
    compiled = compile_expr(source)
    assert compiled.native is None
    assert compiled.evaluate({"x": False, "y": False}) is False
