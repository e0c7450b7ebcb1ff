"""Round 13 (docs/objectives.md): an edge just short of a round number of the field's scale is that number.

A legal or physical limit is a round number far more often than a sample's extreme is. Where the values
run up to a limit, the extreme lies within about one spacing of it; without a limit, the extreme lands
that close to a multiple of the scale's step (the power of ten under the span) only by chance, about
(distance + resolution) / step. The round number is the bound when that chance is at most
relation_chance (0.01) and the distance is within the mean spacing of the five values next to the edge.
The expected values below are worked from that statement, not read off the function."""

from __future__ import annotations

import random

import pytest

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
    assert ranges.resolution([1.5, 2.0, 7.5]) == 0.1
    assert ranges.resolution([1.25, 2.5]) == 0.01
    assert ranges.resolution([0.1234567, 1.0]) is None  # more than six decimals: no written step


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


def test_a_round_number_never_widens_a_bound_nor_replaces_a_cut() -> None:
    # ages 18..70 piled up at both edges: the cuts stand; 70 is also a multiple of the step 10, but
    # the cut is the sample's own edge and the round number does not replace it
    ages = [18 + (i * 7) % 53 for i in range(300)]
    (cand,) = ranges.profile(col("member_age", "long", ages), S)
    assert cand.refine["hi"] == 70 and cand.refine["cuts"] == ["low", "high"]
    assert "round number" not in cand.basis
    # a round low edge under the sign floor is not taken: the floor stays the sign
    positive = [0.0, *(round(0.5 + 0.5 * (i % 40), 1) for i in range(299))]
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
