"""An int read as a double is rounded to the nearest double in the CEL library once it is beyond 2**53
(`double(9007199254740993)` is 9007199254740992.0, and `int(double(2**63 - 1))` overflows), and so is
an int compared with a double (`i == x` holds for i = 2**53 + 1, x = 2**53). The solver may not claim
the exact value there, or a "never" answer about such a rule is false (review of FIXMISC3's f95138a)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import z3

from dana_workflows.analysis.cel_types import parse_analysed
from dana_workflows.analysis.report import analyse
from dana_workflows.analysis.symbolic import Encoder, Sym, field_symbol
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

BIG = 2**53 + 1  # the first int a double cannot hold


def _encode(expr: str) -> tuple[Sym, dict[str, Sym]]:
    tree = parse_analysed(expr)
    assert tree is not None
    env = {"i": field_symbol("i", "long", False), "x": field_symbol("x", "double", False)}
    return Encoder(env, under=False, functions={}).node(tree), env


def _possible(*facts: Any) -> bool:
    solver = z3.Solver()
    solver.add(*facts)
    return bool(solver.check() == z3.sat)


@pytest.mark.parametrize(
    ("expr", "event"),
    [
        ("double(i) == double(i - 1)", {"i": BIG}),
        ("int(double(i)) == i", {"i": BIG}),
        ("i == x", {"i": BIG, "x": float(2**53)}),
        ("i > x", {"i": 2**63 - 1, "x": 9.223372036854776e18}),
    ],
)
def test_what_the_library_answers_on_a_big_int_stays_possible(expr: str, event: dict[str, Any]) -> None:
    value = compile_expr(expr).evaluate(event)
    sym, env = _encode(expr)
    facts = [env["i"].value == event["i"]]
    if "x" in event:
        facts.append(env["x"].value == z3.RealVal(Fraction(event["x"])))
    assert _possible(*facts, sym.ok, sym.value == value), f"{expr} is {value} in CEL on {event}"


def test_an_overflow_after_rounding_stays_possible() -> None:
    with pytest.raises(EvaluationError):
        compile_expr("int(double(i))").evaluate({"i": 2**63 - 1})
    sym, env = _encode("int(double(i))")
    assert _possible(env["i"].value == 2**63 - 1, z3.Not(sym.ok))


@pytest.mark.parametrize("n", [0, 7, -7, 2**53, -(2**53)])
def test_up_to_two_to_the_53_the_double_is_the_same_number(n: int) -> None:
    sym, env = _encode("double(i)")
    assert not _possible(env["i"].value == n, sym.value != n)


SPEC = """\
workflow: counts
input: {qty: long}
steps:
  - check:
      validate:
        - {id: next, rule: "double(qty) != double(qty - 1) || qty < 0"}
"""


def test_a_rule_two_big_ints_break_is_not_said_never_to_fail(tmp_path: Path) -> None:
    # qty = 2**53 + 1 makes it false in CEL: 'never-fails' would be a false claim
    assert compile_expr("double(qty) != double(qty - 1) || qty < 0").evaluate({"qty": BIG}) is False
    path = tmp_path / "counts.yaml"
    path.write_text(SPEC, encoding="utf-8")
    findings = analyse(load_spec(path)).findings
    assert [f.key for f in findings if f.code == "never-fails"] == []
