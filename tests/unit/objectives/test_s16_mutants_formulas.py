"""Edges of objectives/profilers/formulas.py that session 16's tests left open (mutation pass, session 17).

Each expected value is worked from the module's statement (its docstring, docs/objectives.md rounds 15
and 16), not read off the function: a unit's factor has at most MAX_CONVERSION_DIGITS (six) significant
digits; each factor varies (two values are a variation); the tolerance is half the result's written
step."""

from __future__ import annotations

import random

import pytest

from dana_workflows.objectives.profilers import formulas
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_round15 import _cols, _lifts

pytestmark = pytest.mark.unit
S = InferenceSettings()


def test_a_conversion_factor_of_seven_digits_is_a_measurement_not_a_unit() -> None:
    rng = random.Random(17)
    t = [round(rng.uniform(100.0, 500.0), 3) for _ in range(300)]
    # written to the thousandth, so the tolerance is the cent: over loads of 100-500 only factors within
    # ~4e-5 of 2204.623 fit, and the roundest of them has seven digits, one more than a unit's table gives
    lb = [round(x * 2204.623, 3) for x in t]
    cols = _cols({"t": t, "lb": lb})
    assert formulas.fit(cols[1], cols[0], None, False, S) is None
    # the same sample at six digits is a conversion (the limit is inclusive)
    lb6 = [round(x * 2204.62, 3) for x in t]
    cols = _cols({"t": t, "lb": lb6})
    f = formulas.fit(cols[1], cols[0], None, False, S)
    assert f is not None and f.k == 2204.62


@pytest.mark.parametrize("two_valued", ["a", "b"])
def test_a_factor_of_two_values_varies(two_valued: str) -> None:
    # hours per resident day: a shift of 8 or 12 hours over a census of 20-120 residents (or a census of
    # two sizes), written to 0.001; a factor that takes two values is not constant, so it is a factor
    rng = random.Random(3)
    n = 300
    if two_valued == "a":
        hours = [rng.choice([8.0, 12.0]) for _ in range(n)]
        census = [float(rng.randint(20, 120)) for _ in range(n)]
    else:
        hours = [round(rng.uniform(100.0, 900.0), 1) for _ in range(n)]
        census = [rng.choice([40.0, 90.0]) for _ in range(n)]
    hprd = [round(h / c, 3) for h, c in zip(hours, census, strict=True)]
    cols = _cols({"hours": hours, "census": census, "hprd": hprd})
    f = formulas.fit(cols[2], cols[0], cols[1], True, S)
    assert f is not None and f.k == 1 and f.ratio


def test_a_constant_at_the_low_bound_the_events_allow_is_taken() -> None:
    # every event bounds k by |y - k * x| <= tol, bounds included (relations.constant_bounds): here one
    # event is exactly tol above 100 * x, so 100 is the lowest k allowed, and the roundest of all of them
    x = [float(v) for v in range(1, 51)]
    y = [100.0 * v + (0.5 if v == 7 else 0.3) for v in x]
    cols = _cols({"x": x, "y": y})
    f = formulas.fit(cols[1], cols[0], None, False, S, tol=0.5)
    assert f is not None and f.k == 100.0


def test_bounds_that_meet_at_one_constant_give_that_constant() -> None:
    # x = 1, y = 100.5 allows k in [100, 101]; x = 2, y = 199.5 allows [99.5, 100]: the bounds meet at
    # 100 alone, which fits every event (the bounds are inclusive), so it is the constant
    x = [float(v) for v in range(1, 31)]
    y = [100.5, 199.5, *(100.0 * v for v in x[2:])]
    cols = _cols({"x": x, "y": y})
    f = formulas.fit(cols[1], cols[0], None, False, S, tol=0.5)
    assert f is not None and f.k == 100.0


@pytest.mark.parametrize(
    "joined", [{"load_pct", "load_kg"}, {"load_pct", "rated_capacity_kg"}, {"load_kg", "rated_capacity_kg"}]
)
def test_a_relation_over_two_of_the_three_fields_leaves_the_formula_to_be_found(joined: set[str]) -> None:
    # `said` holds the fields a relation already joins; a formula is left to it only when that relation
    # joins all three of its fields (an order between two of them says nothing of the third)
    cols = _cols(_lifts())
    (cand,) = formulas.profile(cols, S, set(), [joined])
    assert cand.kind == "formula" and set(cand.fields) == {"load_pct", "load_kg", "rated_capacity_kg"}
    assert formulas.profile(cols, S, set(), [{"load_pct", "load_kg", "rated_capacity_kg"}]) == []


def test_a_result_a_sum_already_makes_is_left_to_it() -> None:
    # a sum's fields end with its total (relations: parts, then the total): load_pct as the total of two
    # other fields is made by that sum, so no formula is offered for it, though one holds over three
    # fields the sum does not join
    data = _lifts()
    rng = random.Random(8)
    data["part"] = [round(rng.uniform(0.0, p), 1) for p in data["load_pct"]]
    data["rest"] = [round(p - q, 1) for p, q in zip(data["load_pct"], data["part"], strict=True)]
    cols = _cols(data)
    total = Candidate(
        id="s",
        rule="true",
        profile="relation",
        fields=("part", "rest", "load_pct"),
        message="",
        basis="",
        kind="sum",
    )
    found = formulas.beside([total], cols, S)
    assert found[0] is total
    assert not any(c.kind == "formula" and c.fields[-1] == "load_pct" for c in found[1:])
    # without the sum, the formula for load_pct is found over the same columns
    assert any(c.fields[-1] == "load_pct" for c in formulas.beside([], cols, S))
