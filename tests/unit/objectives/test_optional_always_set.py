"""A field declared optional that every sample event happened to set still gets its value rules.

The gates evaluate each rule with null for an optional field (objectives/cel_check.py): an unguarded
range or format on such a field errors there and was never offered, so the user got only `x != null`.
Whether the field may be absent is the completeness rule's to say; a value rule lets null through."""

from __future__ import annotations

import random

import pytest

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.objectives.profilers import completeness, patterns, ranges
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.refine import passes
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

S = InferenceSettings()


def test_an_always_set_optional_amount_gets_a_range_that_lets_null_through() -> None:
    rng = random.Random(5)
    field = FieldIR(name="discount", type="double", optional=True)
    values = [round(rng.uniform(10.0, 50.0), 2) for _ in range(300)]
    [found] = ranges.profile(Column(field, list(values)), S)
    assert check_rule(found.rule, {"discount": field}) == ""  # the gates take it now
    rule = compile_expr(found.rule)
    assert passes(rule, {"discount": None})  # absent: the completeness rule's business
    assert passes(rule, {"discount": 30.0})
    assert not passes(rule, {"discount": -500.0})  # a value far outside the sample's range


def test_an_always_set_optional_code_gets_its_format_and_completeness_its_presence() -> None:
    rng = random.Random(6)
    field = FieldIR(name="voucher", type="string", optional=True)
    values = [f"V{rng.randint(0, 999999):06d}X" for _ in range(300)]
    [fmt] = patterns.profile(Column(field, list(values)), S)
    assert check_rule(fmt.rule, {"voucher": field}) == ""
    rule = compile_expr(fmt.rule)
    assert passes(rule, {"voucher": None})
    assert passes(rule, {"voucher": "V123456X"})
    assert not passes(rule, {"voucher": "123456"})
    present, nonempty = completeness.profile(Column(field, list(values)), S)
    assert not passes(compile_expr(present.rule), {"voucher": None})
    assert check_rule(nonempty.rule, {"voucher": field}) == ""
    assert passes(compile_expr(nonempty.rule), {"voucher": None})
    assert not passes(compile_expr(nonempty.rule), {"voucher": ""})


def test_a_required_field_keeps_an_unguarded_rule() -> None:
    rng = random.Random(7)
    field = FieldIR(name="amount", type="double")
    [found] = ranges.profile(Column(field, [round(rng.uniform(10.0, 50.0), 2) for _ in range(300)]), S)
    assert "== null" not in found.rule
