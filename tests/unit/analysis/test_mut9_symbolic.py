"""The z3 encoding of a conditional with `null` on one side (`f ? null : x`) gives what the CEL library
computes on a fixed event: null when the null side is chosen, the other side's value otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import z3

from dana_workflows.analysis.symbolic import Encoder, field_symbol
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.cel_parse import parse_subset
from tests.unit.analysis.test_symbolic_agrees_with_cel import FIELDS, as_z3, fixed, valid

pytestmark = pytest.mark.unit

EVENT = {"i": 1, "j": 0, "x": 0.5, "n": None, "s": "ab", "f": False}


@pytest.mark.parametrize("expr", ["f ? null : x", "f ? x : null", "!f ? null : i", "!f ? s : null"])
@pytest.mark.parametrize("flag", [True, False])
def test_a_conditional_with_a_null_side_agrees_with_cel(expr: str, flag: bool) -> None:
    event = {**EVENT, "f": flag}
    expected: Any = compile_expr(expr).evaluate(event)
    tree = parse_subset(expr)
    assert tree is not None
    env = {name: field_symbol(name, t, opt) for name, (t, opt) in FIELDS.items()}
    sym = Encoder(env, under=False, functions={}).node(tree)
    facts = [c for name, s in env.items() for c in fixed(s, name, event[name])]
    assert valid(facts, sym.ok)
    if expected is None:
        assert valid(facts, sym.null)
        return
    assert valid(facts, z3.Not(sym.null))
    assert valid(facts, sym.value == as_z3(expected, sym.kind))
