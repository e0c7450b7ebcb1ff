"""How refinement widens a range (objectives/refine.py), by the rule in its code comments and docstring.

A range widens past the good event's value by the tolerance: margin = range_tolerance x max(span, 1) / 2,
rounded outward (whole numbers for integer fields, three significant digits otherwise); a floor that
would go below zero for a field whose values (and the event's) are never negative stops at zero; a good
event exactly at an open floor closes it. The message says the new range in the field's own literals.
"""

from __future__ import annotations

import pytest

from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.refine import refine
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

S = InferenceSettings(range_tolerance=0.25)


def _range(field: FieldIR, lo: float, hi: float, lo_open: bool = False) -> Candidate:
    op = ">" if lo_open else ">="
    return Candidate(
        f"{field.name}_range",
        f"{field.name} {op} {lo} && {field.name} <= {hi}",
        "range",
        (field.name,),
        "m",
        "b",
        strength=0.8,
        support=9,
        kind="range",
        refine={"lo": lo, "hi": hi, "lo_open": lo_open},
    )


def _name(i: int) -> str:
    return f"event {i}"


def test_a_double_range_widens_up_by_the_margin_rounded_outward() -> None:
    amount = FieldIR(name="amount", type="double")
    out = refine(_range(amount, 0.0, 100.0), Column(amount, [1.0, 50.0]), [{"amount": 180.0}], _name, S)
    c = out.candidate
    assert c is not None
    # margin 0.25 x 100 / 2 = 12.5: 192.5 rounded up to three significant digits
    assert c.refine == {"lo": 0.0, "hi": 193.0, "lo_open": False}
    assert c.rule == "amount >= 0.0 && amount <= 193.0" and c.message == "amount must lie in [0.0, 193.0]"
    assert (c.id, c.strength, c.support, c.kind, c.profile) == ("amount_range", 0.8, 9, "range", "range")


def test_a_long_range_widens_down_to_whole_numbers() -> None:
    n = FieldIR(name="n", type="long")
    out = refine(_range(n, 10.0, 20.0), Column(n, [-5, 15]), [{"n": -3}], _name, S)
    c = out.candidate
    assert c is not None
    # margin 0.25 x 10 / 2 = 1.25: floor(-4.25) = -5
    assert c.refine["lo"] == -5.0 and c.rule == "n >= -5 && n <= 20"


def test_a_floor_stops_at_zero_for_a_never_negative_field() -> None:
    n = FieldIR(name="n", type="long")
    out = refine(_range(n, 10.0, 20.0), Column(n, [3, 15]), [{"n": 0}], _name, S)
    assert out.candidate is not None and out.candidate.refine["lo"] == 0.0
    # a negative value in the sample: the floor goes below zero
    neg = refine(_range(n, 10.0, 20.0), Column(n, [-1, 15]), [{"n": 0}], _name, S)
    assert neg.candidate is not None and neg.candidate.refine["lo"] == -2.0


def test_a_small_span_widens_by_at_least_half_the_tolerance() -> None:
    x = FieldIR(name="x", type="double")
    out = refine(_range(x, 1.0, 1.2), Column(x, [1.1]), [{"x": 2.0}], _name, S)
    assert out.candidate is not None and out.candidate.refine["hi"] == 2.13  # 2.0 + 0.125, rounded up


def test_a_good_event_at_an_open_floor_closes_it() -> None:
    x = FieldIR(name="x", type="double")
    out = refine(_range(x, 0.0, 10.0, lo_open=True), Column(x, [1.0]), [{"x": 0.0}], _name, S)
    c = out.candidate
    assert c is not None and c.refine == {"lo": 0.0, "hi": 10.0, "lo_open": False}
    assert c.rule == "x >= 0.0 && x <= 10.0" and c.message == "x must lie in [0.0, 10.0]"
    assert out.notes == ["widened to admit the known-good event event 0 (x=0.0)"]
    kept = refine(_range(x, 0.0, 10.0, lo_open=True), Column(x, [1.0]), [{"x": 12.0}], _name, S)
    assert kept.candidate is not None and kept.candidate.refine["lo_open"] is True
    assert kept.candidate.message.startswith("x must lie in (0.0, ")


def test_a_rule_that_admits_every_good_event_is_kept_as_it_is() -> None:
    x = FieldIR(name="x", type="double")
    cand = _range(x, 0.0, 10.0)
    out = refine(cand, Column(x, [1.0]), [{"x": 5.0}], _name, S)
    assert out.candidate is cand and out.notes == []


def test_a_good_event_without_the_value_drops_the_rule() -> None:
    x = FieldIR(name="x", type="double")
    out = refine(_range(x, 0.0, 10.0), Column(x, [1.0]), [{}], _name, S)
    assert out.candidate is None and out.notes == [
        "dropped: it rejected the known-good event event 0 (x=None)"
    ]
