"""Round 16 (docs/objectives.md): a conversion, one field in another unit written to its own step
(objectives/profilers/formulas.py).

`load_kn == 9.81 * load_t` with the force written to 0.1 kN is off the exact product by at most half
that step; a unit's factor is a physical constant given to as many digits as its table has (2204.62 lb
per t: six), where a policy's rate has at most three; it is not 1 (a copy is not a conversion); of
`a == k * b` and `b == a / k` the one that holds is offered, once; the match must be beyond chance over
every formula tried, conversions included. The expected values below are worked from that statement."""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import formulas
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_round15 import _cols, _events, _holds

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _loads(n: int = 300, seed: int = 16) -> dict[str, list[Any]]:
    # an outrigger's load in tonnes (to 0.1) and the same load in kilonewtons, written to 0.1
    rng = random.Random(seed)
    t = [round(rng.uniform(5.0, 150.0), 1) for _ in range(n)]
    return {"load_t": t, "load_kn": [round(x * 9.81, 1) for x in t]}


def test_a_force_from_a_mass_is_found_with_its_factor_and_half_a_step() -> None:
    (cand,) = formulas.profile(_cols(_loads()), S, set())
    assert cand.kind == "formula"
    assert cand.fields == ("load_t", "load_kn")
    assert "9.81 * load_t" in cand.rule
    # 10 t is 98.1 kN: 98.14 and 98.06 are within half of 0.1, 98.2 and 98.0 are not; a mass
    # written in kilonewtons' place (a unit mistake) is far off
    for kn, ok in ((98.1, True), (98.14, True), (98.06, True), (98.2, False), (98.0, False), (10.0, False)):
        assert _holds(cand.rule, {"load_t": 10.0, "load_kn": kn}) is ok, kn


def test_a_conversion_may_have_six_digits_not_seven() -> None:
    rng = random.Random(5)
    t = [round(rng.uniform(1.0, 500.0), 3) for _ in range(300)]
    # pounds from tonnes at 2204.62, written to the pound: six digits are a conversion
    lb = [float(round(x * 2204.62)) for x in t]
    cols = _cols({"t": t, "lb": lb})
    f = formulas.fit(cols[1], cols[0], None, False, S)
    assert f is not None and f.b is None and f.k == 2204.62
    # the same pounds written to the thousandth (the cent's tolerance): only 2204.6226, eight digits,
    # fits them all, which is a measurement's number, not a unit's
    fine = [round(x * 2204.62262, 3) for x in t]
    cols = _cols({"t": t, "lb": fine})
    assert formulas.fit(cols[1], cols[0], None, False, S) is None


def test_a_product_keeps_its_three_digits() -> None:
    # six digits are a conversion's allowance only: a product of two fields with 2204.62 is refused
    rng = random.Random(7)
    t = [round(rng.uniform(1.0, 50.0), 1) for _ in range(300)]
    n = [rng.randint(1, 9) for _ in range(300)]
    lb = [float(round(x * m * 2204.62)) for x, m in zip(t, n, strict=True)]
    cols = _cols({"t": t, "n": n, "lb": lb}, {"n": "long"})
    assert formulas.fit(cols[2], cols[0], cols[1], False, S) is None


def test_a_copy_is_not_a_conversion() -> None:
    rng = random.Random(9)
    a = [round(rng.uniform(0.0, 100.0), 3) for _ in range(300)]
    cols = _cols({"a": a, "a_rounded": [round(x, 1) for x in a]})
    assert formulas.fit(cols[1], cols[0], None, False, S) is None
    assert formulas.profile(cols, S, set()) == []


def test_a_conversion_needs_a_varying_base_and_a_result_of_many_values() -> None:
    # one base value fits any factor
    cols = _cols({"t": [12.5] * 300, "kn": [122.6] * 300})
    assert formulas.fit(cols[1], cols[0], None, False, S) is None
    # nineteen values of the result are a menu, twenty are made (min_values)
    for n, found in ((S.min_values - 1, False), (S.min_values, True)):
        t = [float(10 + i % n) for i in range(300)]
        cols = _cols({"t": t, "kn": [round(x * 9.81, 1) for x in t]})
        assert (formulas.fit(cols[1], cols[0], None, False, S) is not None) is found, n


def test_of_a_unit_and_its_inverse_the_one_that_holds_is_offered_once() -> None:
    rng = random.Random(11)
    mg = [rng.randint(40, 400) for _ in range(300)]
    # mmol/l from mg/dl written to 0.1: within 0.05 of mg / 18.016; mg/dl is the measured whole number
    # and is within 0.9 of 18.016 * mmol, more than its half step, so only one direction holds
    data = {"glucose_mg_dl": mg, "glucose_mmol_l": [round(x / 18.016, 1) for x in mg]}
    found = formulas.profile(_cols(data, {"glucose_mg_dl": "long"}), S, set())
    assert [c.fields for c in found] == [("glucose_mg_dl", "glucose_mmol_l")]
    (cand,) = found
    for i in range(300):
        assert _holds(cand.rule, {k: v[i] for k, v in data.items()})
    assert not _holds(cand.rule, {"glucose_mg_dl": 180, "glucose_mmol_l": 180 / 18.016 + 0.2})


def test_the_chance_is_shared_with_the_conversions_tried() -> None:
    # two numbers: each is tried as a conversion of the other (no product or ratio needs fewer than
    # three fields), two tries in all
    cols = _cols(_loads())
    share = S.relation_chance / 2
    for chance, found in ((share, True), (share * 1.01, False)):
        with mock.patch.object(formulas, "chance_of_product", return_value=chance):
            assert bool(formulas.profile(cols, S, set())) is found, chance


def test_beside_leaves_a_conversion_a_rate_already_makes() -> None:
    cols = _cols(_loads())
    rate = Candidate(
        id="r",
        rule="true",
        profile="relation",
        fields=("load_t", "load_kn"),
        message="",
        basis="",
        kind="rate",
    )
    assert formulas.beside([rate], cols, S) == [rate]


def test_inference_offers_the_conversion() -> None:
    data = _loads(400)
    fields = {n: FieldIR(name=n, type="double") for n in data}
    sample, holdout = (
        parse_sample(_events(data, lo, hi), list(fields.values()), what)
        for lo, hi, what in ((0, 300, "sample"), (300, 400, "holdout"))
    )
    proposals = infer_boundary(Boundary("input", fields, sample, holdout), None, S).proposals
    assert [p.fields for p in proposals if p.kind == "formula"] == [("load_t", "load_kn")]
