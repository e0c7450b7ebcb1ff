"""Round 15 (docs/objectives.md): a result written to its own step, a product or a ratio of two fields
times a round constant (objectives/profilers/formulas.py).

A field computed from two others and rounded to the step its readers use (a load percentage to 0.1, a
rate per resident to 0.001) is off the exact product or quotient by at most half that step; the
constant is a unit's or a scale's number of at most three significant digits; the match must be beyond
chance over every formula tried. The expected values below are worked from that statement."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any
from unittest import mock

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import formulas, relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.refine import passes
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_range_scale_and_menus import col

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _lifts(n: int = 300, seed: int = 15) -> dict[str, list[Any]]:
    # a crane's lifts: capacity in tonnes, load under it, the percentage written to 0.1
    rng = random.Random(seed)
    cap = [rng.choice([6000.0, 8000.0, 12000.0, 25000.0]) for _ in range(n)]
    load = [round(rng.uniform(500.0, c), 1) for c in cap]
    pct = [round(x * 100.0 / c, 1) for x, c in zip(load, cap, strict=True)]
    return {"rated_capacity_kg": cap, "load_kg": load, "load_pct": pct}


def _cols(data: dict[str, list[Any]], types: dict[str, str] | None = None) -> list[Column]:
    return [col(name, (types or {}).get(name, "double"), values) for name, values in data.items()]


def _holds(rule: str, event: dict[str, Any]) -> bool:
    return passes(compile_expr(rule), event)


def test_tolerance_is_half_the_written_step_never_under_a_cent() -> None:
    assert formulas.tolerance(col("p", "double", [66.7, 12.5, 3.0]), S) == pytest.approx(0.05 * 1.001)
    assert formulas.tolerance(col("p", "double", [10.0, 20.0, 35.0]), S) == pytest.approx(2.5 * 1.001)
    # written to the thousandth: half of it is under the sums' cent, which stands
    assert formulas.tolerance(col("p", "double", [0.616, 0.485]), S) == S.sum_tolerance
    # full precision has no written step
    assert formulas.tolerance(col("p", "double", [0.1234567, 1.0]), S) == S.sum_tolerance


def test_a_percentage_of_a_capacity_is_found_with_its_constant_and_half_a_step() -> None:
    data = _lifts()
    (cand,) = formulas.profile(_cols(data), S, set())
    assert cand.kind == "formula"
    assert cand.fields == ("load_kg", "rated_capacity_kg", "load_pct")
    assert "100.0 * load_kg / rated_capacity_kg" in cand.rule
    for i in range(300):
        assert _holds(cand.rule, {k: v[i] for k, v in data.items()})
    # 4,000 of 6,000 kg is 66.67%: written 66.7 it passes, 0.04 either side still does (within half
    # of 0.1); 66.9 or 66.4 (more than half a step off) and a load in pounds do not
    event = {"rated_capacity_kg": 6000.0, "load_kg": 4000.0}
    for pct, ok in ((66.7, True), (66.63, True), (66.71, True), (66.9, False), (66.4, False)):
        assert _holds(cand.rule, {**event, "load_pct": pct}) is ok, pct
    assert not _holds(cand.rule, {**event, "load_kg": 4000.0 * 2.20462, "load_pct": 66.7})
    # a zero capacity leaves the quotient undefined: that event is not judged by the formula
    assert _holds(cand.rule, {"rated_capacity_kg": 0.0, "load_kg": 10.0, "load_pct": 5.0})


def test_a_product_with_a_unit_constant() -> None:
    rng = random.Random(3)
    qty = [rng.randint(1, 120) for _ in range(300)]
    grams = [round(rng.uniform(100.0, 8000.0), 1) for _ in range(300)]
    kg = [round(q * g / 1000.0, 3) for q, g in zip(qty, grams, strict=True)]
    cols = _cols({"quantity": qty, "per_unit_g": grams, "total_kg": kg}, {"quantity": "long"})
    f = formulas.fit(cols[2], cols[0], cols[1], False, S)
    assert f is not None and f.k == 0.001 and not f.ratio
    # one formula for the three fields: the product that makes the total, not `quantity == 1000 *
    # total_kg / per_unit_g` (a whole number is not a quotient) nor `per_unit_g == ...`
    (cand,) = formulas.profile(cols, S, set())
    assert cand.fields == ("quantity", "per_unit_g", "total_kg")
    assert "0.001 * double(quantity) * per_unit_g" in cand.rule


def test_the_product_before_the_ratio_when_both_are_as_round() -> None:
    # t = a * b exactly, and so b = t / a: both constants 1, the product is how t is made
    rng = random.Random(5)
    a = [float(rng.randint(2, 40)) for _ in range(300)]
    b = [float(rng.randint(2, 40)) for _ in range(300)]
    t = [x * y for x, y in zip(a, b, strict=True)]
    (cand,) = formulas.profile(_cols({"a": a, "b": b, "t": t}), S, set())
    assert cand.fields == ("a", "b", "t") and "/" not in cand.rule
    assert cand.rule.startswith("t - a * b <= ")  # a constant of 1 is not written
    # with 1 / b as a field of its own, t is also a / inv_b: of the two ways to make t, the product
    inv = [1.0 / y for y in b]
    found = formulas.profile(_cols({"a": a, "b": b, "inv_b": inv, "t": t}), S, set())
    (made,) = [c for c in found if c.fields[-1] == "t"]
    assert made.fields == ("a", "b", "t")


def test_a_zero_factor_makes_a_zero_result() -> None:
    rng = random.Random(13)
    a = [float(rng.randint(0, 40)) for _ in range(300)]  # zero now and then
    b = [float(rng.randint(2, 40)) for _ in range(300)]
    t = [x * y for x, y in zip(a, b, strict=True)]
    cols = _cols({"a": a, "b": b, "t": t})
    assert 0.0 in a and formulas.fit(cols[2], cols[0], cols[1], False, S) is not None
    i = a.index(0.0)
    cols[2].values[i] = 1.0  # a result where a factor is zero: not this product
    assert formulas.fit(cols[2], cols[0], cols[1], False, S) is None


def test_a_constant_of_many_digits_is_a_measurement_not_a_rule() -> None:
    rng = random.Random(7)
    a = [round(rng.uniform(1.0, 50.0), 2) for _ in range(300)]
    b = [round(rng.uniform(1.0, 50.0), 2) for _ in range(300)]
    for k, found in ((1.25, True), (1.2345, False)):
        t = [round(k * x * y, 2) for x, y in zip(a, b, strict=True)]
        cols = _cols({"a": a, "b": b, "t": t})
        f = formulas.fit(cols[2], cols[0], cols[1], False, S)
        assert (f is not None and f.k == k) is found, k


def test_a_ratio_is_not_tried_for_a_whole_number() -> None:
    # census == hours / hprd holds as well as hprd == hours / census; a count is counted
    rng = random.Random(9)
    census = [rng.randint(40, 230) for _ in range(300)]
    hours = [round(rng.uniform(15.0, 230.0), 2) for _ in range(300)]
    hprd = [round(h / c, 3) for h, c in zip(hours, census, strict=True)]
    cols = _cols({"census": census, "hours": hours, "hprd": hprd}, {"census": "long"})
    (cand,) = formulas.profile(cols, S, set())
    assert cand.fields == ("hours", "census", "hprd")
    assert cand.rule.startswith("census == 0 || (")
    tried = formulas._tries(cols, set())
    assert {(t[0].name, t[3]) for t in tried} == {
        ("census", False),
        ("hours", False),
        ("hours", True),
        ("hprd", False),
        ("hprd", True),
    }


def test_what_makes_no_formula() -> None:
    data = _lifts()
    cols = _cols(data)
    # a result another relation already makes, or three fields a relation already joins
    assert formulas.profile(cols, S, {"load_pct"}) == []
    assert formulas.profile(cols, S, set(), [set(data)]) == []
    # fewer events than min_values where all three are set (the percentages all distinct here)
    first: dict[float, int] = {}
    for i, v in enumerate(data["load_pct"]):
        first.setdefault(v, i)
    rows = sorted(first.values())[: S.min_values]
    for keep, found in ((S.min_values - 1, False), (S.min_values, True)):
        part = [col(c.name, "double", [c.values[i] for i in rows]) for c in cols]
        part[2].values[keep:] = [None] * (len(rows) - keep)
        assert (formulas.fit(part[2], part[1], part[0], True, S) is not None) is found, keep
    # a factor that never varies (a rate of the other one, relations.rates finds it), either one
    rng = random.Random(17)
    load = [round(rng.uniform(500.0, 8000.0), 1) for _ in range(300)]
    flat = col("cap", "double", [8000.0] * 300)
    pct = col("pct", "double", [round(x * 100.0 / 8000.0, 1) for x in load])
    assert formulas.fit(pct, col("load", "double", load), flat, True, S) is None
    pct_of_flat = col("pct", "double", [round(8000.0 * 100.0 / x, 1) for x in load])
    assert formulas.fit(pct_of_flat, flat, col("load", "double", load), True, S) is None


def test_a_result_that_keeps_to_a_short_menu_is_chosen_not_made() -> None:
    # bags of 60, 69 or 70 kg: within half a kilogram of some quotient by chance of where they lie
    rng = random.Random(11)
    n = 300
    x = [rng.randint(10, 300) for _ in range(n)]
    menu = [rng.choice([60.0, 69.0, 70.0]) for _ in range(n)]
    total = [float(a) * m for a, m in zip(x, menu, strict=True)]
    cols = _cols({"bags": x, "total": total, "bag_kg": menu}, {"bags": "long"})
    assert formulas.fit(cols[2], cols[1], cols[0], True, S) is None
    # nineteen distinct values are a menu, twenty are not (min_values)
    for distinct, found in ((S.min_values - 1, False), (S.min_values, True)):
        values = [float(50 + i % distinct) for i in range(n)]
        cols = _cols(
            {"bags": x, "total": [float(a) * m for a, m in zip(x, values, strict=True)], "bag_kg": values}
        )
        assert (formulas.fit(cols[2], cols[1], cols[0], True, S) is not None) is found, distinct


def test_an_always_zero_result_says_nothing() -> None:
    a = [float(i % 17 + 1) for i in range(300)]
    b = [float(i % 13 + 2) for i in range(300)]
    cols = _cols({"a": a, "b": b, "t": [0.0] * 300})
    assert formulas.fit(cols[2], cols[0], cols[1], False, S) is None
    # thirty values, all within the cent's tolerance of zero: a multiple of anything, not a formula
    cols = _cols({"a": a, "b": b, "t": [0.0001 * (i % 30) for i in range(300)]})
    assert formulas.fit(cols[2], cols[0], cols[1], False, S) is None


def test_a_quotient_over_a_zero_is_not_how_the_field_is_made() -> None:
    data = _lifts()
    data["rated_capacity_kg"][5], data["load_pct"][5] = 0.0, 0.0
    cols = _cols(data)
    assert formulas.fit(cols[2], cols[1], cols[0], True, S) is None


def test_the_chance_is_shared_over_every_formula_tried() -> None:
    cols = _cols(_lifts())
    # three numbers: each result is tried as one product, two ratios and (round 16) a conversion of
    # each of the other two, fifteen tries in all
    share = S.relation_chance / 15
    for chance, found in ((share, True), (share * 1.01, False)):
        with mock.patch.object(formulas, "chance_of_product", return_value=chance):
            assert bool(formulas.profile(cols, S, set())) is found, chance


def _events(data: dict[str, list[Any]], lo: int, hi: int) -> list[str]:
    return [json.dumps({k: v[i] for k, v in data.items()}) for i in range(lo, hi)]


def test_inference_offers_the_formula() -> None:
    data = _lifts(400)
    fields = {n: FieldIR(name=n, type="double") for n in data}
    field_list: Sequence[FieldIR] = list(fields.values())
    sample = parse_sample(_events(data, 0, 300), field_list, "sample")
    holdout = parse_sample(_events(data, 300, 400), field_list, "holdout")
    result = infer_boundary(Boundary("input", fields, sample, holdout), None, S)
    offered = [p for p in result.proposals if p.kind == "formula"]
    assert [p.fields for p in offered] == [("load_kg", "rated_capacity_kg", "load_pct")]


def test_the_chance_is_that_of_the_quotient_the_formula_makes() -> None:
    # relations.chance_of_product over (k, a / b, result): the share of mismatched pairs that agree,
    # to the n-th power; on twenty lifts it is small but not zero (each quotient meets its own result)
    data = _lifts()
    first: dict[float, int] = {}
    for i, v in enumerate(data["load_pct"]):
        first.setdefault(v, i)
    keep = sorted(first.values())[: S.min_values]
    part = {k: [v[i] for i in keep] for k, v in data.items()}
    cols = _cols(part)
    f = formulas.fit(cols[2], cols[1], cols[0], True, S)
    assert f is not None and f.ratio and f.k == 100.0
    rows = list(zip(part["load_kg"], part["rated_capacity_kg"], part["load_pct"], strict=True))
    expected = relations.chance_of_product([(100.0, x / c, t) for x, c, t in rows], f.tol)
    assert 0.0 < expected < 1e-20
    assert f.chance == expected


def test_beside_leaves_a_result_a_relation_already_makes() -> None:
    cols = _cols(_lifts())
    made = Candidate(
        id="p",
        rule="true",
        profile="relation",
        fields=("load_kg", "rated_capacity_kg", "load_pct"),
        message="",
        basis="",
        kind="product",
    )
    assert formulas.beside([made], cols, S) == [made]
    # an order between two of the fields says nothing of how the third is made
    order = Candidate(
        id="o",
        rule="true",
        profile="relation",
        fields=("load_kg", "rated_capacity_kg"),
        message="",
        basis="",
        kind="order",
    )
    found = formulas.beside([order], cols, S)
    assert found[0] is order and [c.kind for c in found[1:]] == ["formula"]
