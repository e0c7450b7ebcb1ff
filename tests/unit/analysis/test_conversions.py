"""The analysis reads the conversions docs/expressions.md recommends, `double(x)`, `int(x)`, `string(x)`
(newcomer3 N7: `dose_mg * double(doses_per_day)` gave a `not-analysed` note on every validate of a valid
spec). What each does is the CEL library's, probed: double of an int is the same number, int of a double
truncates toward zero and fails outside 64 bits, string of an int is its digits, and a boolean or null
fails all three. Text parsed as a number and a double's digits are left to the solver as unknown."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import z3

from dana_workflows.analysis.cel_types import BOOL, DOUBLE, INT, STRING, infer, parse_analysed
from dana_workflows.analysis.report import analyse
from dana_workflows.analysis.symbolic import Encoder, Unsupported, field_symbol
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.cel_parse import parse_subset
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

KINDS = {"i": INT, "x": DOUBLE, "s": STRING, "f": BOOL}
FIELDS = {"i": ("long", False), "x": ("double", False), "n": ("double", True), "s": ("string", False)}


def kind_and_problems(expr: str) -> tuple[str, list[str]]:
    tree = parse_analysed(expr)
    assert tree is not None, expr
    kind, problems = infer(tree, KINDS)
    return kind, [p.message for p in problems]


@pytest.mark.parametrize(
    ("expr", "kind"),
    [
        ("x * double(i)", DOUBLE),
        ("int(x) + i", INT),
        ("int(s)", INT),
        ("double(s) > 1.5", BOOL),
        ("string(i) + s", STRING),
        ("size(string(x))", INT),
    ],
)
def test_conversions_give_their_kind(expr: str, kind: str) -> None:
    assert kind_and_problems(expr) == (kind, [])


@pytest.mark.parametrize("expr", ["double(f)", "int(f)", "string(f)", "int(null)"])
def test_a_conversion_of_a_boolean_or_null_is_refused_as_the_library_refuses_it(expr: str) -> None:
    assert kind_and_problems(expr)[1], expr
    with pytest.raises(EvaluationError):
        compile_expr(expr).evaluate({"f": True})


def test_the_refusal_of_string_of_a_boolean_says_what_to_write() -> None:
    tree = parse_analysed("string(f) == 'true'")
    assert tree is not None
    [problem] = infer(tree, KINDS)[1]
    assert problem.fix == "f ? 'true' : 'false'"


def test_the_native_evaluators_subset_is_unchanged() -> None:
    # cel_native evaluates parse_subset's trees: the conversions stay the CEL library's there
    assert parse_subset("double(i)") is None
    assert parse_analysed("double(i)") is not None


EVENTS = [
    {"i": 7, "x": 2.75, "n": None, "s": "12"},
    {"i": -7, "x": -2.75, "n": 1.5, "s": "ab"},
    {"i": 0, "x": 1e19, "n": -0.25, "s": "-3"},
    {"i": 123, "x": -9.223372036854776e18, "n": 0.0, "s": ""},  # int(-2**63 as a double) fails too
]
EXACT = [
    "double(i)",
    "double(x)",
    "int(x)",
    "int(i)",
    "int(n)",
    "double(n)",
    "string(i)",
    "string(s)",
    "int(x) * 2 > i",
    "string(i) + s",
]


def _fixed(env: dict[str, Any], event: dict[str, Any]) -> list[Any]:
    facts = []
    for name, value in event.items():
        sym = env[name]
        if value is None:
            facts.append(sym.null)
            continue
        facts.append(z3.Not(sym.null))
        if sym.kind == STRING:
            facts.append(sym.value == z3.StringVal(value))
        elif sym.kind == DOUBLE:
            facts.append(sym.value == z3.RealVal(Fraction(value)))
        else:
            facts.append(sym.value == value)
    return facts


def _valid(facts: list[Any], claim: Any) -> bool:
    solver = z3.Solver()
    solver.add(*facts, z3.Not(claim))
    return bool(solver.check() == z3.unsat)


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("expr", EXACT)
def test_the_encoding_of_a_conversion_is_what_the_library_computes(expr: str, event: dict[str, Any]) -> None:
    tree = parse_analysed(expr)
    assert tree is not None
    env = {name: field_symbol(name, t, opt) for name, (t, opt) in FIELDS.items()}
    sym = Encoder(env, under=False, functions={}).node(tree)
    facts = _fixed(env, event)
    try:
        value = compile_expr(expr).evaluate(event)
    except EvaluationError:
        assert _valid(facts, z3.Not(sym.ok)), f"{expr} fails in CEL on {event}"
        return
    assert _valid(facts, z3.And(sym.ok, z3.Not(sym.null))), f"{expr} = {value!r} in CEL on {event}"
    expected = {
        bool: z3.BoolVal,
        int: z3.IntVal,
        float: lambda v: z3.RealVal(Fraction(v)),
        str: z3.StringVal,
    }[type(value)](value)
    assert _valid(facts, sym.value == expected), f"{expr} = {value!r} in CEL on {event}"


@pytest.mark.parametrize("expr", ["int(s)", "double(s)", "string(x)"])
def test_text_read_as_a_number_and_a_doubles_digits_are_unknown_to_the_solver(expr: str) -> None:
    # '12' reads as 12 and 'ab' fails: the encoding claims neither, on the same event
    tree = parse_analysed(expr)
    assert tree is not None
    env = {name: field_symbol(name, t, opt) for name, (t, opt) in FIELDS.items()}
    sym = Encoder(env, under=False, functions={}).node(tree)
    facts = _fixed(env, EVENTS[0])
    assert not _valid(facts, sym.ok) and not _valid(facts, z3.Not(sym.ok))


MEDS = """\
workflow: med-orders
input: {drug: string, dose_mg: double, doses_per_day: long, qty: long}
steps:
  - check:
      validate:
        - {id: dose, rule: "dose_mg > 0.0 && dose_mg < 5.0"}
  - compute:
      transform:
        set:
          daily_mg: {expr: "dose_mg * double(doses_per_day)", type: double}
  - sure:
      validate:
        - {id: whole, rule: "int(dose_mg) <= 4"}
        - {id: text, rule: "string(qty) != 'x'"}
"""


def test_a_spec_with_conversions_is_analysed_without_a_note(tmp_path: Path) -> None:
    path = tmp_path / "meds.yaml"
    path.write_text(MEDS, encoding="utf-8")
    findings = analyse(load_spec(path)).findings
    assert [f.code for f in findings if f.code == "not-analysed"] == []
    # the solver reads through them: both rules hold on every event that reaches them
    never = sorted(f.key for f in findings if f.code == "never-fails")
    assert never == ["steps[2].sure.validate[0].rule", "steps[2].sure.validate[1].rule"]


def test_a_conversion_of_a_boolean_is_left_to_the_type_check() -> None:
    # the type check refuses it (above); the encoding makes it an opaque value, like any mixed kinds
    tree = parse_analysed("string(f)")
    assert tree is not None
    env = {"f": field_symbol("f", "boolean", False)}
    with pytest.raises(Unsupported):
        Encoder(env, under=False, functions={}).node(tree)
