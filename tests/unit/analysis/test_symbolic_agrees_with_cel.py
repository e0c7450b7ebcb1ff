"""The z3 encoding gives, on a fixed event, exactly what the CEL library computes: the same value, the
same errors (nulls into operators, mixed types, division by zero, && and || absorbing an error).

Doubles are drawn as quarters and never divided, so float arithmetic is exact and reals agree with it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import z3
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dana_workflows.analysis.cel_types import BOOL, DOUBLE, INT, STRING
from dana_workflows.analysis.symbolic import Encoder, Sym, Unsupported, field_symbol
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.cel_parse import parse_subset

pytestmark = pytest.mark.unit

FIELDS = {
    "i": ("long", False),
    "j": ("long", False),
    "x": ("double", False),
    "n": ("double", True),
    "s": ("string", False),
    "f": ("boolean", False),
}


def _binary(
    left: st.SearchStrategy[str], ops: list[str], right: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    return st.tuples(left, st.sampled_from(ops), right).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


def _choice(
    cond: st.SearchStrategy[str], a: st.SearchStrategy[str], b: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    return st.tuples(cond, a, b).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})")


# typed expressions, so most reach the encoding (a mixed-kind one is the type check's business)
ints: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["i", "j", "0", "3", "-2"]),
        _binary(ints, ["+", "-", "*", "/"], ints),
        strs.map(lambda c: f"size({c})"),
        _choice(bools, ints, ints),
    )
)
doubles: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["x", "n", "1.5", "0.25", "-2.0"]),
        _binary(doubles, ["+", "-", "*"], doubles),
        _choice(bools, doubles, doubles),
    )
)
strs: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["s", "'ab'", "''"]), _binary(strs, ["+"], strs), _choice(bools, strs, strs)
    )
)
numbers = st.one_of(ints, doubles)
bools: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.sampled_from(["f", "true", "false"]),
        _binary(numbers, ["==", "!=", "<", "<=", ">", ">="], numbers),
        _binary(strs, ["==", "!=", "<", ">="], strs),
        _binary(
            st.one_of(numbers, strs, st.just("null")), ["==", "!="], st.one_of(numbers, strs, st.just("null"))
        ),
        _binary(bools, ["&&", "||"], bools),
        bools.map(lambda c: f"!{c}"),
        numbers.map(lambda c: f"({c} in [1, 'ab', 2.5, null])"),
    )
)
expressions = st.one_of(bools, ints, doubles, strs)
events = st.fixed_dictionaries(
    {
        "i": st.integers(-20, 20),
        "j": st.integers(-3, 3),
        "x": st.integers(-40, 40).map(lambda k: k / 4),
        "n": st.one_of(st.none(), st.integers(-8, 8).map(lambda k: k / 4)),
        "s": st.sampled_from(["", "ab", "xyz"]),
        "f": st.booleans(),
    }
)


def fixed(sym: Sym, name: str, value: Any) -> list[Any]:
    if value is None:
        return [sym.null]
    facts = [z3.Not(sym.null)] if FIELDS[name][1] else []
    if sym.kind == STRING:
        return [*facts, sym.value == z3.StringVal(value)]
    if sym.kind == DOUBLE:
        return [*facts, sym.value == z3.RealVal(Fraction(value))]
    if sym.kind == BOOL:
        return [*facts, sym.value == z3.BoolVal(value)]
    return [*facts, sym.value == value]


def as_z3(value: Any, kind: str) -> Any:
    if kind == INT:
        return z3.IntVal(value)
    if kind == DOUBLE:
        return z3.RealVal(Fraction(value))
    if kind == BOOL:
        return z3.BoolVal(value)
    return z3.StringVal(value)


def valid(solver_facts: list[Any], claim: Any) -> bool:
    s = z3.Solver()
    s.add(*solver_facts, z3.Not(claim))
    return bool(s.check() == z3.unsat)


_EVENT = {"i": 1, "j": 0, "x": 0.5, "n": None, "s": "ab", "f": False}


@settings(max_examples=300, deadline=None)
@given(expressions, events)
@example("(n < 1.5) && f", _EVENT)  # a false side decides over an error
@example("((1 / j) > 0) || !f", _EVENT)  # a true side decides over division by zero
@example("(n < 1.5) || f", _EVENT)  # an error and a false side: an error
@example("(n == null) && (s + 'c' == 'abc')", _EVENT)
def test_encoding_matches_the_cel_library(expr: str, event: dict[str, Any]) -> None:
    tree = parse_subset(expr)
    if tree is None or (value_of := _cel(expr, event)) is _SKIP:
        return
    env = {name: field_symbol(name, t, opt) for name, (t, opt) in FIELDS.items()}
    try:
        sym = Encoder(env, under=False, functions={}).node(tree)
    except Unsupported:  # mixed kinds the type check reports: the solver treats it as unknown
        return
    facts = [c for name, sym_ in env.items() for c in fixed(sym_, name, event[name])]
    if isinstance(value_of, EvaluationError):
        assert valid(facts, z3.Not(sym.ok)), f"{expr} errs in CEL on {event}"
        return
    assert valid(facts, sym.ok), f"{expr} = {value_of!r} in CEL on {event}, the encoding says error"
    if value_of is None:
        assert valid(facts, sym.null)
        return
    assert valid(facts, z3.Not(sym.null))
    assert valid(facts, sym.value == as_z3(value_of, sym.kind)), f"{expr} = {value_of!r} on {event}"


_SKIP = object()


def _cel(expr: str, event: dict[str, Any]) -> Any:
    try:
        compiled = compile_expr(expr)
    except ValueError:
        return _SKIP
    try:
        return compiled.evaluate(event)
    except EvaluationError as exc:
        return exc


def test_int_overflow_is_an_error() -> None:
    env = {"i": field_symbol("i", "long", False)}
    tree = parse_subset("i * 9223372036854775807")
    assert tree is not None
    sym = Encoder(env, under=False, functions={}).node(tree)
    assert valid([env["i"].value == 2], z3.Not(sym.ok))
    assert valid([env["i"].value == 1], sym.ok)
    with pytest.raises(EvaluationError):
        compile_expr("i * 9223372036854775807").evaluate({"i": 2})
