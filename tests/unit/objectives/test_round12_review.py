"""Round 12, review fixes (docs/objectives.md "Twelfth round, review fixes").

- a cut's bound is written so that it never refuses the edge it was taken from (a double rounded away
  from the values it keeps; an integer past 2**53 kept an integer);
- where a pack's range prior covers the field, a cut inside the prior's bound is where the sample
  stopped, not the field: on that side the prior's bound stands (ISO week 53 exists);
- a quantity is read on the log scale only from a factor of two between its outer quantiles;
- the core pack's priors for the calendar and fixed scales, by name and type;
- a widened cut says so in the basis, naming the event."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from dana_workflows.objectives.boundaries import Boundary
from dana_workflows.objectives.domain_packs import load_pack
from dana_workflows.objectives.infer import candidates, infer_boundary
from dana_workflows.objectives.profilers import ranges
from dana_workflows.objectives.profilers.column import literal
from dana_workflows.objectives.refine import refine
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_range_scale_and_menus import col
from tests.unit.objectives.test_round5 import holds_event

pytestmark = pytest.mark.unit
S = InferenceSettings()


# --- F2: a cut's bound keeps its own edge ---------------------------------------------------------


@pytest.mark.parametrize("edge", [2 / 3, 0.7 * 3, 0.1 * 3, -2 / 3])
def test_a_low_cut_at_an_unrepresentable_edge_keeps_the_edge(edge: float) -> None:
    # the edge piles up (40 of 300), the rest thins out above it: the bound is the edge itself
    values = [edge] * 40 + [edge + 0.001 * i for i in range(1, 261)]
    (cand,) = ranges.profile(col("share", "double", values), S)
    assert cand.refine["cuts"] == ["low"]
    assert all(holds_event(cand.rule, {"share": v}) for v in set(values))
    assert not holds_event(cand.rule, {"share": edge - 1e-6})  # still a cut: just below it is refused


@pytest.mark.parametrize("edge", [1 / 3, 0.7 * 3, 0.1 * 3])
def test_a_high_cut_at_an_unrepresentable_edge_keeps_the_edge(edge: float) -> None:
    values = [edge] * 40 + [edge - 0.001 * i for i in range(1, 261)]
    (cand,) = ranges.profile(col("share", "double", values), S)
    assert cand.refine["cuts"] == ["high"]
    assert all(holds_event(cand.rule, {"share": v}) for v in set(values))
    assert not holds_event(cand.rule, {"share": edge + 1e-6})


def test_a_bound_is_rounded_away_from_the_values_it_keeps() -> None:
    # 2/3 to ten digits is 0.6666666667 (up) as a value; as a low bound it goes down, as a high one up
    assert literal(2 / 3, "double") == "0.6666666667"
    assert literal(2 / 3, "double", "low") == "0.6666666666"
    assert literal(2 / 3, "double", "high") == "0.6666666667"
    assert literal(0.7 * 3, "double", "low") == "2.099999999"  # 2.0999999999999996 is under 2.1
    assert literal(0.7 * 3, "double", "high") == "2.1"
    assert literal(-2 / 3, "double", "low") == "-0.6666666667"
    assert literal(-2 / 3, "double", "high") == "-0.6666666666"
    assert literal(12.5, "double", "low") == "12.5"  # a value ten digits hold is written as it is


def test_a_cut_at_a_computed_edge_is_offered_end_to_end() -> None:
    # a utilisation capped at 0.7 * 3 (as JSON carries the computed float), many events at the cap
    rng = random.Random(1)
    cap = 0.7 * 3
    values = [cap] * 40 + [round(rng.uniform(2.11, 3.5), 3) for _ in range(260)]
    rng.shuffle(values)
    fields = [FieldIR(name="x", type="double")]
    events = [json.dumps({"x": v}) for v in values]
    sample, held = parse_sample(events[:200], fields, "s"), parse_sample(events[200:], fields, "h")
    result = infer_boundary(Boundary("input", {"x": fields[0]}, sample, held), load_pack("core"), S)
    (offered,) = [p.rule for p in result.proposals if p.rule.startswith("x >=")]
    assert offered.startswith("x >= 2.099999999 &&")
    assert all(holds_event(offered, {"x": v}) for v in values)


def test_an_integer_cut_past_two_to_the_53_stays_an_integer() -> None:
    top = 2**60 + 1  # float(top) is 2**60: the top value would fail its own rule
    values = [top] * 10 + [top - i * 1000 for i in range(1, 50)]
    (cand,) = ranges.profile(col("serial_offset", "long", values), S)
    assert cand.refine["hi"] == top and cand.rule.endswith(f"serial_offset <= {top}")
    assert holds_event(cand.rule, {"serial_offset": top})


# --- F1: a prior's bound stands over a cut inside it ----------------------------------------------


def rules(name: str, type_: str, values: list[Any], pack: str = "core") -> dict[str, str]:
    return {c.kind: c.rule for c in candidates([col(name, type_, values)], load_pack(pack), S)}


def test_a_sample_of_weeks_stopping_at_52_keeps_week_53() -> None:
    # weeks 1-52, each about as often: both edges pile up; week 53 exists (2026-12-28 is in it)
    weeks = [1 + i % 52 for i in range(312)]
    (cand,) = ranges.profile(col("iso_week", "int", weeks), S)
    assert cand.rule == "iso_week >= 1 && iso_week <= 52"  # the sample's own cuts
    got = rules("iso_week", "int", weeks)
    assert got["range"] == "iso_week >= 1 && iso_week <= 53"
    assert holds_event(got["range"], {"iso_week": 53}) and not holds_event(got["range"], {"iso_week": 54})


def test_low_and_high_cuts_inside_the_calendar_give_way_to_it() -> None:
    # days of the year 5-300 drawn flat (a season's sample): both edges pile up, the calendar stands
    days = [5 + (i * 7) % 296 for i in range(1184)]
    (cand,) = ranges.profile(col("day_of_year", "int", days), S)
    assert cand.refine["cuts"] == ["low", "high"]
    got = rules("day_of_year", "int", days)
    assert got["range"] == "day_of_year >= 1 && day_of_year <= 366"


@pytest.mark.parametrize(
    ("name", "values", "rule"),
    [
        # a driver from 21 (a rental's minimum age) within any human age's 0-130 (core `*_age`)
        ("driver_age", [21 + (i * 7) % 50 for i in range(300)], "driver_age >= 21 && driver_age <= 70"),
        # a weekly harvest day within the calendar's 1-366, named by the pattern `*_day_of_year`
        (
            "harvest_day_of_year",
            [5 + (i * 7) % 296 for i in range(1184)],
            "harvest_day_of_year >= 5 && harvest_day_of_year <= 300",
        ),
    ],
)
def test_a_cut_stands_inside_a_prior_that_names_a_kind_not_the_field(
    name: str, values: list[int], rule: str
) -> None:
    assert rules(name, "int", values)["range"] == rule


def test_a_cut_the_prior_leaves_open_still_stands() -> None:
    # landings from 3, a count: the count prior says only "not negative", so the low cut stays
    landings = [3 + (i * 7) % 40 for i in range(300)]
    got = rules("landing_count", "long", landings)
    assert got["range"].startswith("landing_count >= 3 &&")
    # a minimum order of 3: the core prior names `quantity` itself, but says only its sign
    assert rules("quantity", "long", landings)["range"].startswith("quantity >= 3 &&")


def test_a_lending_age_cut_gives_way_to_the_packs_bound() -> None:
    # applicants 18-79 each about as often: the pack says a borrower is 18-120, the sample stopped at 79
    ages = [18 + (i * 11) % 62 for i in range(310)]
    (cand,) = [c for c in candidates([col("applicant_age", "int", ages)], load_pack("finance:lending"), S)]
    assert cand.rule == "applicant_age >= 18 && applicant_age <= 120"
    assert "cut replaced by a borrower is of age" in cand.basis and "cuts" not in cand.refine


def test_a_learned_low_bound_is_clipped_to_the_priors_low_bound() -> None:
    # weeks 2-40 spread thin at both ends: the tolerance and the sign put the floor at 0, the prior at 1
    weeks = [2 + (i * 7) % 39 for i in range(39)] + [10 + i % 20 for i in range(200)]
    (learned,) = ranges.profile(col("iso_week", "int", weeks), S)
    assert learned.refine["lo"] == 0 and learned.refine["hi"] == 48 and "cuts" not in learned.refine
    got = rules("iso_week", "int", weeks)
    assert got["range"] == "iso_week >= 1 && iso_week <= 48"  # the learned top, inside the prior, stands


# --- F4: a factor of two, and the core pack's priors ----------------------------------------------


def log_uniform(lo: float, ratio: float, n: int = 400) -> list[float]:
    """n values evenly spaced in logarithms from lo to lo * ratio, both ends repeated so that the outer
    quantiles are exactly lo and lo * ratio: symmetric in logarithms, right-skewed as they are."""
    inner = [lo * math.exp(math.log(ratio) * i / (n - 1)) for i in range(n)]
    return sorted([lo] * 4 + inner + [lo * ratio] * 4)


@pytest.mark.parametrize(
    ("ratio", "by_factors"),
    [(1.5, False), (1.9, False), (2.0, True), (2.5, True), (2.9, True)],
)
def test_a_quantity_spreads_by_factors_from_a_factor_of_two(ratio: float, by_factors: bool) -> None:
    ordered = log_uniform(10.0, ratio)
    assert ranges.quantile(ordered, S.q_high) == pytest.approx(ranges.quantile(ordered, S.q_low) * ratio)
    assert ranges.spreads_by_factors(ordered, S) is by_factors
    lo, _ = ranges.bounds(ordered, S, integer=False)
    assert (lo == 0.0) is by_factors  # on the log scale the floor is the sign; else the linear tolerance


@pytest.mark.parametrize(
    ("name", "type_", "bounds"),
    [
        ("iso_week", "int", (1, 53)),
        ("delivery_week_of_year", "long", (1, 53)),
        ("day_of_year", "int", (1, 366)),
        ("harvest_day_of_year", "long", (1, 366)),
        ("ph", "double", (0, 14)),
        ("final_rinse_ph", "double", (0, 14)),
        ("soil_ph", "float", (0, 14)),
        ("probability", "double", (0, 1)),
        ("default_probability", "double", (0, 1)),
        ("bearing", "int", (0, 360)),
        ("heading", "double", (0, 360)),
        ("azimuth", "float", (0, 360)),
        ("wind_direction", "long", (0, 360)),
        ("azimuth_deg", "double", (0, 360)),
        ("bearing_deg", "double", (0, 360)),
        ("heading_deg", "int", (0, 360)),
        ("direction_deg", "double", (0, 360)),
        ("wind_dir_deg", "double", (0, 360)),
        ("vessel_heading", "double", (0, 360)),
        ("antenna_azimuth_deg", "double", (0, 360)),
        ("gust_direction_deg", "double", (0, 360)),
    ],
)
def test_core_pack_priors_for_the_calendar_and_fixed_scales(
    name: str, type_: str, bounds: tuple[int, int]
) -> None:
    (prior,) = [p for p in load_pack("core").priors_for(name, type_) if p.spec.range is not None]
    assert prior.spec.range == bounds


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("calls_ph", "double"),  # calls per hour
        ("trips_ph", "double"),
        ("phone", "double"),
        ("iso_week", "double"),  # a week number is whole
        ("day_of_year", "double"),
        ("probability", "int"),  # a probability of whole numbers is 0 or 1: a flag, not this prior
    ],
)
def test_no_core_range_prior_where_the_name_or_type_says_otherwise(name: str, type_: str) -> None:
    assert [p for p in load_pack("core").priors_for(name, type_) if p.spec.range is not None] == []


# --- F6: a widened cut says so ---------------------------------------------------------------------


def test_a_cut_widened_by_a_good_event_says_so_in_the_basis() -> None:
    scores = [90] * 30 + [40 + i % 50 for i in range(270)]  # a cap at 90, piled up
    column = col("score", "long", scores)
    (cand,) = ranges.profile(column, S)
    assert cand.rule.endswith("score <= 90") and "high edge 90 is a cut" in cand.basis
    out = refine(cand, column, [{"score": 100}], lambda i: f"held-out event #{i}", S)
    assert out.candidate is not None and not holds_event(out.candidate.rule, {"score": 200})
    assert holds_event(out.candidate.rule, {"score": 100})
    assert "the high cut widened to admit the known-good event held-out event #0 (score=100)" in (
        out.candidate.basis
    )
    assert out.candidate.refine["cuts"] == ["low"] or "cuts" not in out.candidate.refine
    assert out.candidate.refine["lo"] == cand.refine["lo"]
