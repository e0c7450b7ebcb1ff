"""Round 12 (docs/objectives.md): an edge the sample piles up at is a cut, and the range's bound there.

A tail thins out towards its extreme, so a sample's smallest or largest value is among its rarest. An
extreme value seen several times, and about as often as a typical value of the field, says the values
stop there (a legal minimum age, a scale's last point, a sensor that clips): the bound is the edge,
with no tolerance past it. An edge the values thin out towards keeps the tolerance."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from dana_workflows.objectives.profilers import ranges
from dana_workflows.objectives.refine import refine
from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_range_scale_and_menus import col
from tests.unit.objectives.test_round5 import _core_rules, holds_event

pytestmark = pytest.mark.unit
S = InferenceSettings()
NO_CUTS = InferenceSettings(edge_min_repeats=10_000)


def test_a_flat_count_up_to_both_edges_is_cut_at_them() -> None:
    # ages of adult members, 18 to 70, each age about as often as any other: both ends are cuts
    ages = [18 + (i * 7) % 53 for i in range(300)]
    (cand,) = ranges.profile(col("member_age", "long", ages), S)
    assert cand.rule == "member_age >= 18 && member_age <= 70"
    assert cand.refine == {"lo": 18, "hi": 70, "lo_open": False, "cuts": ["low", "high"]}
    assert "low edge 18 is a cut" in cand.basis and "high edge 70 is a cut" in cand.basis
    # without the cut, the tolerance widens past both edges (the rule this round replaces)
    (wide,) = ranges.profile(col("member_age", "long", ages), NO_CUTS)
    assert wide.refine["lo"] < 18 and wide.refine["hi"] > 70


def test_a_clipped_measurement_is_cut_at_its_clip_only() -> None:
    # a donor's weight, recorded from 52 kg up (the clip piles the low values at 52.0); the top thins out
    rng = random.Random(5)
    weights = [round(max(52.0, rng.gauss(78, 13)), 1) for _ in range(300)]
    ordered = sorted(weights)
    assert ordered.count(52.0) >= 3 and ordered.count(ordered[-1]) == 1
    (cand,) = ranges.profile(col("weight_kg", "double", weights), S)
    assert cand.refine["lo"] == 52.0 and cand.rule.startswith("weight_kg >= 52.0 &&")
    assert cand.refine["hi"] > ordered[-1]  # no cut at the top: the tolerance stands


def test_a_tapering_tail_is_no_cut() -> None:
    rng = random.Random(7)
    heights = [round(rng.gauss(170, 9), 1) for _ in range(300)]
    assert ranges.cut_edges(sorted(heights), S) == (None, None)
    (cand,) = ranges.profile(col("height_cm", "double", heights), S)
    assert cand.refine["lo"] < min(heights) and cand.refine["hi"] > max(heights)


def test_cut_edges_needs_the_repeats_and_the_share_of_a_typical_count() -> None:
    # 10 distinct values, 100 events: a typical value is seen 10 times, so a cut needs 5 (0.5 of 10)
    middle = [v for v in range(2, 10) for _ in range(11)]  # 88 events on 2..9
    edges = [1] * 5 + [10] * 7
    assert ranges.cut_edges(sorted(middle + edges), S) == (1, 10)
    thin = [1] * 4 + [10] * 8  # 4 < 0.5 * 10: the low edge thins out
    assert ranges.cut_edges(sorted(middle + thin), S) == (None, 10)
    # many distinct values seen once each: three at the edge are a cut, two are not (edge_min_repeats)
    spread = [float(v) for v in range(10, 200)]
    assert ranges.cut_edges(sorted([5.0] * 3 + spread), S) == (5.0, None)
    assert ranges.cut_edges(sorted([5.0] * 2 + spread), S) == (None, None)
    assert ranges.cut_edges([], S) == (None, None)


def test_a_good_event_past_a_cut_widens_the_range() -> None:
    ages = col("member_age", "long", [18 + (i * 7) % 53 for i in range(300)])
    (cand,) = ranges.profile(ages, S)
    out = refine(cand, ages, [{"member_age": 40}, {"member_age": 17}], lambda i: f"event #{i}", S)
    assert out.candidate is not None and out.candidate.refine["lo"] <= 17
    assert "member_age=17" in out.notes[0]


# --- a quantity spreads by factors only over a factor of two ----------------------------------------


def _fahrenheit() -> list[float]:
    # water temperatures around 40 F: right-skewed (log-normal) but within a ratio of 1.6
    rng = random.Random(0)
    return [round(math.exp(rng.gauss(3.7, 0.07)), 1) for _ in range(300)]


def test_a_narrow_right_skewed_measurement_is_not_read_on_the_log_scale() -> None:
    temps = _fahrenheit()
    ordered = sorted(temps)
    # the asymmetry test alone would read it on the log scale, with its floor at the sign
    assert ranges.spreads_by_factors(ordered, InferenceSettings(factor_spread=1.0))
    assert not ranges.spreads_by_factors(ordered, S)
    (cand,) = ranges.profile(col("water_temp_f", "double", temps), S)
    assert "log scale" not in cand.basis
    lo = cand.refine["lo"]
    assert 25.0 < lo < ordered[0]  # the linear tolerance's floor: a level far from zero
    # a unit mistake that divides (40 F read as 4.4 C) falls under the floor
    assert not holds_event(cand.rule, {"water_temp_f": 4.4})
    assert holds_event(cand.rule, {"water_temp_f": ordered[0]})
    (old,) = ranges.profile(col("water_temp_f", "double", temps), InferenceSettings(factor_spread=1.0))
    assert old.refine["lo"] == 0.0 and "log scale" in old.basis


def test_a_spread_over_a_factor_of_two_is_still_read_on_the_log_scale() -> None:
    rng = random.Random(3)
    amounts = sorted(round(math.exp(rng.gauss(6.0, 0.8)), 2) for _ in range(300))
    q_lo, q_hi = ranges.quantile(amounts, S.q_low), ranges.quantile(amounts, S.q_high)
    assert q_hi >= 2 * q_lo
    assert ranges.spreads_by_factors(amounts, S)
    assert not ranges.spreads_by_factors(amounts, InferenceSettings(factor_spread=q_hi / q_lo + 0.01))


# --- the calendar, the clock and fixed scales in the core pack (objectives/domains/core.yaml) --------


@pytest.mark.parametrize(
    ("name", "type_", "values", "bound"),
    [
        # values thinning out at both ends (no cut): the learned top is past the prior's
        ("iso_week", "long", [10 + i % 31 + i % 11 for i in range(300)], "iso_week <= 53"),
        (
            "soil_ph",
            "double",
            [round(2.0 + (i % 37) / 5 + (i % 7) / 2, 2) for i in range(300)],
            "soil_ph <= 14.0",
        ),
        (
            "wind_direction",
            "long",
            [30 + (i * 7) % 251 + i % 61 for i in range(300)],
            "wind_direction <= 360",
        ),
        (
            "survival_probability",
            "double",
            [round(0.2 + (i % 41) / 60 + (i % 5) / 50, 4) for i in range(300)],
            "survival_probability <= 1.0",
        ),
    ],
)
def test_calendar_and_scale_priors_clip_a_learned_top(
    name: str, type_: str, values: list[Any], bound: str
) -> None:
    ordered = sorted(values)
    assert ranges.cut_edges(ordered, S) == (None, None)
    learned = ranges.profile(col(name, type_, values), S)[0].refine["hi"]
    prior_top = float(bound.rsplit(" ", 1)[1])
    assert learned > prior_top  # the pack is what brings the top down
    rules = _core_rules(name, type_, values)
    assert rules["range"].endswith(bound), rules["range"]


def test_a_sample_past_the_calendar_keeps_its_learned_range() -> None:
    # week numbers up to 60: not ISO weeks (a project's weeks); the sample says the prior is wrong
    weeks = [20 + i % 31 + i % 11 for i in range(300)]
    assert max(weeks) > 53
    assert "<= 53" not in _core_rules("iso_week", "long", weeks)["range"]
