"""relations._rate_fit's counting, as session 16 moved it beside constant_bounds (mutation pass, session
17): a rate `a == k * b` is judged on the events where both fields are set, and needs min_values of them
(InferenceSettings: "fewer than min_values events cannot show" a relation); an event missing either field
neither counts nor breaks the fit."""

from __future__ import annotations

import random

import pytest

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_round15 import _cols

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _vat(complete: int) -> tuple[list[float | None], list[float | None]]:
    # VAT at 7% of a bill, to the cent, on `complete` events; ten more lack the VAT, ten the bill
    rng = random.Random(complete)
    bill = [round(rng.uniform(100.0, 9000.0), 2) for _ in range(complete)]
    vat: list[float | None] = [round(0.07 * b, 2) for b in bill]
    bills: list[float | None] = list(bill)
    vat += [None] * 10 + [round(rng.uniform(1.0, 600.0), 2) for _ in range(10)]
    bills += [round(rng.uniform(100.0, 9000.0), 2) for _ in range(10)] + [None] * 10
    return vat, bills


def test_a_rate_on_min_values_complete_events_is_found_and_one_fewer_is_not() -> None:
    vat, bill = _vat(S.min_values)
    a, b = _cols({"vat": vat, "bill": bill})
    fit = relations._rate_fit(a, b, S)
    assert fit is not None
    k, cand = fit
    assert k == 0.07 and cand.support == S.min_values and cand.kind == "rate"
    vat, bill = _vat(S.min_values - 1)
    a, b = _cols({"vat": vat, "bill": bill})
    assert relations._rate_fit(a, b, S) is None


def test_a_base_of_two_values_one_of_them_1_varies() -> None:
    # a base field varies when it takes two values other than zero (an x of zero allows any constant and
    # is no evidence); 1 is a value like any other
    rng = random.Random(2)
    bill = [rng.choice([1.0, 340.0]) for _ in range(300)]
    a, b = _cols({"vat": [round(0.07 * x, 2) for x in bill], "bill": bill})
    fit = relations._rate_fit(a, b, S)
    assert fit is not None and fit[0] == 0.07
