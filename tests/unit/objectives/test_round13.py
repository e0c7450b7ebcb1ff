"""Round 13 (docs/objectives.md): an edge just short of a round number of the field's scale is that number.

A legal or physical limit is a round number far more often than a sample's extreme is. Where the values
run up to a limit, the extreme lies within about one spacing of it; without a limit, the extreme lands
that close to a multiple of the scale's step (the power of ten under the span) only by chance, about
(distance + resolution) / step. The round number is the bound when that chance is at most
relation_chance (0.01) and the distance is within the mean spacing of the five values next to the edge.
The expected values below are worked from that statement, not read off the function."""

from __future__ import annotations

import random
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.objectives.profilers import ranges
from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_range_scale_and_menus import col

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _depths(top: float) -> list[float]:
    # dive depths to one decimal, 5.0 m up to `top`, every tenth of a metre about as often
    n = round((top - 5.0) * 10) + 1
    return [round(5.0 + 0.1 * (i % n), 1) for i in range(max(n, 300))]


def test_resolution_is_the_written_step() -> None:
    assert ranges.resolution([1, 2, 30]) == 1.0
    assert ranges.resolution([1.5, 2.1, 7.4]) == 0.1
    assert ranges.resolution([1.25, 2.5, 2.51]) == 0.01
    assert ranges.resolution([1.0001, 2.0]) == 0.0001  # off the whole numbers by a ten-thousandth
    assert ranges.resolution([0.000001, 1.0]) == 0.000001  # six decimals still have a step
    assert ranges.resolution([0.1234567, 1.0]) is None  # more than six decimals: no written step


def test_resolution_is_the_grid_the_values_share() -> None:
    # values in hundreds are written to 100, half points to 0.5: the chance of landing on a round
    # number counts in that grid, not in the decimal places
    assert ranges.resolution([100, 2500, 3000]) == 100.0
    assert ranges.resolution([0.5, 1.0, 7.5]) == 0.5
    assert ranges.resolution([-20, 30]) == 10.0
    assert ranges.resolution([0, 0]) == 1.0
    assert ranges.resolution([2**60 + 1, 2**60 + 3]) == 1.0  # past 2**53, counted exactly


def test_a_top_on_a_round_number_of_a_coarse_grid_is_chance() -> None:
    # loan amounts in hundreds, 1,000 up to 5,000: step 1,000, the top on a multiple of it, but one
    # amount in ten is a multiple of 1,000: chance (0 + 100) / 1,000 = 0.1, over relation_chance
    amounts = [1000 + 100 * (i % 41) for i in range(300)]
    assert ranges.round_edges(sorted(amounts), S) == (None, None)
    # with whole numbers among the top's neighbours (4,999), the top 5,000 is the one-in-a-thousand
    # coincidence, (0 + 1) / 1,000; the low end's neighbours are still in hundreds: one in ten
    whole = [*amounts[:-1], 4999]
    assert ranges.round_edges(sorted(whole), S) == (None, 5000)


def test_the_resolution_is_that_of_the_values_next_to_the_edge() -> None:
    # ages: infants in months (0.42, 0.67, 0.83 years), everyone else in whole years up to 70; the
    # sample's grid is 0.01, but the top is written in years and lands on a multiple of the step 10
    # one time in ten: no round edge at 70
    ages = [0.42, 0.67, 0.83, *(1 + i % 70 for i in range(300))]
    assert ranges.resolution(ages) == 0.01
    assert ranges.round_edges(sorted(ages), S) == (None, None)
    # the same top among ages to the hundredth near it: (0 + 0.01) / 10
    fine = [*ages, 69.25, 69.5, 69.75, 69.99]
    assert ranges.round_edges(sorted(fine), S) == (None, 70.0)


def test_the_resolution_counts_in_the_chance() -> None:
    # whole numbers 100..599, each about as often: step 100, the round 600 is 1 away, within the
    # spacing 1; the distance alone is 1 / 100 = relation_chance, with the resolution (1 + 1) / 100
    values = sorted(100 + i % 500 for i in range(1000))
    assert ranges.round_edges(values, S) == (100, None)


def test_a_low_edge_under_one_reads_the_multiple_it_sits_on() -> None:
    # a fraction to three decimals from 0.7 up to 0.95: step 0.1; 0.7 / 0.1 is 6.999999999999999 in
    # binary, the floor of which would be the multiple 0.6, 0.1 away: the edge is 0.7 itself
    values = sorted(round(0.7 + 0.001 * (i % 251), 3) for i in range(300))
    assert ranges.round_edges(values, S) == (0.7, None)


def test_the_low_spacing_reads_five_gaps() -> None:
    # a low run 1,002, 1,004, ..., 1,010 then whole numbers 1,012..2,100: step 1,000, the round 1,000
    # is 2 away; the five gaps next to the edge average (1,012 - 1,002) / 5 = 2: within reach (four
    # gaps over five would be 1.6: not)
    values = [1002, 1004, 1006, 1008, 1010, *(1012 + i % 1089 for i in range(1100))]
    assert ranges.round_edges(sorted(values), S) == (1000, None)
    # the mirror at the top: whole numbers 1,900..2,988 then 2,990, 2,992, ..., 2,998: the round
    # 3,000 is 2 away, the five gaps average (2,998 - 2,988) / 5 = 2
    top = [*(1900 + i % 1089 for i in range(1100)), 2990, 2992, 2994, 2996, 2998]
    assert ranges.round_edges(sorted(top), S) == (None, 3000)


def test_six_values_are_enough_five_are_not() -> None:
    few = InferenceSettings(min_values=2)
    six = [1000.0, 1251.0, 1500.0, 1750.0, 1900.0, 2000.0]  # step 1,000, both edges on a multiple
    assert ranges.round_edges(six, few) == (1000.0, 2000.0)
    assert ranges.round_edges(six[1:], few) == (None, None)
    # and the settings' min_values still holds: ten such values are fewer than the default 20
    ten = sorted([*six, 1101.0, 1301.0, 1601.0, 1801.0])
    assert ranges.round_edges(ten, few) == (1000.0, 2000.0)
    assert ranges.round_edges(ten, S) == (None, None)


def test_a_round_edge_never_refuses_the_extreme_it_was_read_from() -> None:
    # six decimals over a span of 20,000: the top 50,000.000001 is 5.0000000001 steps of 10,000,
    # which the rounding to nine places reads as 5: the limit 50,000 would refuse the top itself
    values = sorted([round(30000.5 + 0.000001 * (i % 7) + 13.0 * i, 6) for i in range(300)] + [50000.000001])
    assert ranges.resolution(values) == 0.000001
    lo, hi = ranges.round_edges(values, S)
    assert hi is None or hi >= values[-1]
    assert lo is None or lo <= values[0]


def test_a_whole_number_past_2_53_stays_whole() -> None:
    # counts near 2**60 to the top b, a multiple of 1,000 the nearest double of which is under b
    b = (2**60 // 1000 + 1) * 1000
    assert float(b) < b
    values = sorted(b - (i * 7) % 1995 for i in range(300))
    assert values[-1] == b
    hi = ranges.round_edges(values, S)[1]
    assert hi == b and isinstance(hi, int)
    (cand,) = ranges.profile(col("counter", "long", values), S)
    assert cand.rule.endswith(f"counter <= {b}")


def test_a_top_at_a_round_number_of_the_scale_is_the_bound() -> None:
    # span 35 m: the step is 10; the top 40.0 is a multiple of it, at distance 0, resolution 0.1:
    # chance (0 + 0.1) / 10 = 0.01, not over relation_chance, and 0 is within any spacing
    depths = _depths(40.0)
    assert ranges.round_edges(sorted(depths), S) == (None, 40.0)  # the low 5.0 is 5 from 0: no
    (cand,) = ranges.profile(col("max_depth_m", "double", depths), S)
    assert cand.rule == "max_depth_m > 0.0 && max_depth_m <= 40.0"
    assert "high edge at the round number 40.0" in cand.basis
    # the tolerance alone would let a depth of 45 m through (the rule this round narrows)
    assert cand.refine["hi"] == 40.0


def test_a_top_a_written_step_short_of_the_round_number_is_the_bound() -> None:
    # depths to two decimals, 5.00 up to 39.99: step 10, the round 40 is 0.01 away, within the top
    # spacing 0.01, chance (0.01 + 0.01) / 10 = 0.002
    depths = [round(5.0 + 0.01 * (i % 3500), 2) for i in range(3500)]
    assert ranges.round_edges(sorted(depths), S) == (None, 40.0)


def test_a_top_short_of_the_round_number_by_more_than_chance_allows_is_no_limit() -> None:
    # top 39.7: distance 0.3, chance (0.3 + 0.1) / 10 = 0.04 > 0.01
    depths = _depths(39.7)
    assert ranges.round_edges(sorted(depths), S) == (None, None)
    (cand,) = ranges.profile(col("max_depth_m", "double", depths), S)
    assert cand.refine["hi"] > 40.0
    assert "round number" not in cand.basis


def test_the_chance_alone_refuses_an_extreme_within_reach_of_the_round_number() -> None:
    # even whole numbers 100..598: step 100, the round 600 is 2 away, within the top spacing
    # (598 - 588) / 5 = 2, but the chance (2 + 1) / 100 = 0.03 is over relation_chance
    values = sorted(100 + 2 * (i % 250) for i in range(300))
    assert ranges.round_edges(values, S)[1] is None
    assert ranges.round_edges(values, InferenceSettings(relation_chance=0.05))[1] == 600


def test_the_extreme_must_lie_within_the_spacing_of_its_neighbours() -> None:
    # whole numbers 900..1,959 and a top run 1,990..1,995: span 1,095, step 1,000, the round 2,000 is
    # 5 away, chance (5 + 1) / 1,000 = 0.006, but the spacing next to the top is (1,995 - 1,990) / 5 = 1
    values = [900 + (i * 7) % 1060 for i in range(300)] + [1990, 1991, 1992, 1993, 1994, 1995]
    assert ranges.round_edges(sorted(values), S)[1] is None
    # the top five spread out from 1,959 to 1,995 (spacing 7.2): the round number is within reach
    spread = [900 + (i * 7) % 1060 for i in range(300)] + [1975, 1980, 1985, 1990, 1995]
    assert ranges.round_edges(sorted(spread), S)[1] == 2000


def test_a_low_edge_at_a_round_number_is_the_floor() -> None:
    # bushels on a scale ticket from 200.0 up to 1,090.0: step 100, the bottom on a multiple of it
    rng = random.Random(13)
    bushels = [200.0] + [round(rng.uniform(200.0, 1090.0), 1) for _ in range(299)]
    assert ranges.round_edges(sorted(bushels), S)[0] == 200.0
    (cand,) = ranges.profile(col("wet_bushels", "double", bushels), S)
    assert cand.refine["lo"] == 200.0 and cand.rule.startswith("wet_bushels >= 200.0 &&")
    assert "low edge at the round number 200.0" in cand.basis


def test_a_negative_floor_at_a_round_number() -> None:
    # a potential in whole millivolts, -1,200 up to -201: step 100, the floor on a multiple of it
    # (chance (0 + 1) / 100); the top -201 is 1 short of -200: chance (1 + 1) / 100, no
    millivolts = [-1200 + i % 1000 for i in range(1500)]
    assert ranges.round_edges(sorted(millivolts), S) == (-1200, None)
    (cand,) = ranges.profile(col("redox_mv", "long", millivolts), S)
    assert cand.rule.startswith("redox_mv >= -1200 &&") and "low edge at the round number -1200" in cand.basis


def test_a_round_number_never_widens_a_bound_nor_replaces_a_cut() -> None:
    # ages 18..70 piled up at both edges: the cuts stand; 70 is also a multiple of the step 10, but
    # the cut is the sample's own edge and the round number does not replace it
    ages = [18 + (i * 7) % 53 for i in range(300)]
    (cand,) = ranges.profile(col("member_age", "long", ages), S)
    assert cand.refine["hi"] == 70 and cand.refine["cuts"] == ["low", "high"]
    assert "round number" not in cand.basis
    # a cut on a round number the chance allows ((0 + 1) / 100): the bound is the cut, named once
    capped = [20 + (i * 7) % 181 for i in range(300)] + [20] * 10 + [200] * 10
    assert ranges.round_edges(sorted(capped), S)[1] == 200
    (cap,) = ranges.profile(col("units", "long", capped), S)
    assert cap.refine["hi"] == 200 and cap.refine["cuts"] == ["low", "high"]
    assert "round number" not in cap.basis
    # a round low edge under the sign floor is not taken: the floor stays the sign
    positive = [0.0, *(round(0.1 + 0.1 * (i % 200), 1) for i in range(299))]
    assert ranges.round_edges(sorted(positive), S)[0] == 0.0
    (kept,) = ranges.profile(col("weight_kg", "double", positive), S)
    assert kept.refine["lo"] == 0.0 and "low edge at the round number" not in kept.basis


def test_a_round_number_never_widens_past_the_tolerance() -> None:
    # whole numbers 0..100 and one stray 400: the quantiles leave the stray out; 400 is a multiple of
    # the step 100 at distance 0 (a round edge by itself), but it would widen the bound, so it is not taken
    values = [i % 101 for i in range(300)] + [400]
    assert ranges.round_edges(sorted(values), S)[1] == 400
    (cand,) = ranges.profile(col("score", "long", values), S)
    assert cand.refine["hi"] < 400 and "round number" not in cand.basis


def test_a_round_number_under_one_is_written_as_itself() -> None:
    # a fraction to three decimals from 0.05 up to 0.3: step 0.1, the top on a multiple of it
    values = [round(0.05 + 0.001 * (i % 251), 3) for i in range(300)]
    assert ranges.round_edges(sorted(values), S) == (None, 0.3)
    (cand,) = ranges.profile(col("moisture_fraction", "double", values), S)
    assert cand.refine["hi"] == 0.3 and cand.rule.endswith("moisture_fraction <= 0.3")


def test_too_few_values_or_no_spread_give_no_round_edge() -> None:
    assert ranges.round_edges([40.0] * 30, S) == (None, None)
    assert ranges.round_edges([float(v) for v in range(10, 15)], S) == (None, None)
    assert ranges.round_edges([], S) == (None, None)
    # fewer values than the spacing reads, whatever min_values allows
    assert ranges.round_edges([10.0, 20.0, 30.0, 40.0], InferenceSettings(min_values=2)) == (None, None)
    # values of full precision have no written step, so no chance can be put on their distance
    rng = random.Random(3)
    assert ranges.round_edges(sorted(rng.uniform(0, 40) for _ in range(300)), S) == (None, None)
    # nor does a sample with one such value among whole numbers that would otherwise give one
    assert ranges.round_edges(sorted(range(100, 1001)), S) == (100, 1000)
    assert ranges.round_edges(sorted([*range(100, 1001), 3.14159265358]), S) == (None, None)


# Properties over samples on a decimal grid, negative or not, piled up at an edge or not: the round
# edge lies at or past the sample's extreme (it never refuses a value it was read from), and the
# range with round edges lies within the range without them (it only narrows).
_places = st.integers(min_value=0, max_value=3)
_counts = st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=20, max_size=120)


def _on_grid(counts: list[int], places: int, whole: bool) -> list[float]:
    return [k if whole else round(k / 10**places, places) for k in counts]


@given(_counts, _places, st.booleans(), st.integers(min_value=0, max_value=8))
@settings(max_examples=300, deadline=None)
def test_a_round_edge_lies_at_or_past_the_extreme(
    counts: list[int], places: int, whole: bool, pile: int
) -> None:
    values = sorted(_on_grid(counts, places, whole) + [max(counts) if whole else 0.0] * pile)
    lo, hi = ranges.round_edges(values, S)
    assert lo is None or lo <= values[0]
    assert hi is None or hi >= values[-1]
    if whole:
        assert all(isinstance(e, int) for e in (lo, hi) if e is not None)


def _range(values: list[float], type_: str) -> tuple[float, float, bool] | None:
    found = ranges.profile(col("reading", type_, values), S)
    return (found[0].refine["lo"], found[0].refine["hi"], found[0].refine["lo_open"]) if found else None


@given(_counts, _places, st.booleans(), st.integers(min_value=0, max_value=8))
@settings(max_examples=300, deadline=None)
def test_a_round_edge_only_narrows_and_keeps_the_sample(
    counts: list[int], places: int, whole: bool, pile: int
) -> None:
    values = _on_grid(counts, places, whole) + [max(counts) if whole else 0.0] * pile
    type_ = "long" if whole else "double"
    with_round = _range(values, type_)
    with mock.patch.object(ranges, "round_edges", return_value=(None, None)):
        without = _range(values, type_)
    assert (with_round is None) == (without is None)
    if with_round is None or without is None:
        return
    (lo, hi, lo_open), (lo0, hi0, lo_open0) = with_round, without
    assert lo0 <= lo and hi <= hi0
    # every sample value the range without round edges keeps, the range with them keeps too
    for v in values:
        if lo0 <= v <= hi0 and not (lo_open0 and v <= lo0):
            assert lo <= v <= hi and not (lo_open and v <= lo)
