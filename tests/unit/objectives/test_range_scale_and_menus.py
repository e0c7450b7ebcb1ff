"""Ranges on the scale the values spread on, zero refused only on evidence, doubles that are menus.

The right answers follow from how each sample is drawn (a lognormal's quantiles, a count that never
reaches zero), not from the profiler."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.domain_packs import load_pack
from dana_workflows.objectives.priors import apply_priors
from dana_workflows.objectives.profilers import categories, ranges
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.refine import refine
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def col(name: str, type_: str, values: Sequence[Any]) -> Column:
    return Column(FieldIR(name=name, type=type_), list(values))  # type: ignore[arg-type]


def test_a_long_tailed_amount_gets_its_tolerance_on_the_log_scale() -> None:
    rng = random.Random(11)
    amounts = [round(math.exp(rng.gauss(5.0, 1.0)), 2) for _ in range(300)]
    (cand,) = ranges.profile(col("amount", "double", amounts), S)
    assert "log scale" in cand.basis
    # the lognormal's 99.99th percentile, exp(5 + 3.72 sd), is inside: the tail's next values pass
    assert cand.refine["hi"] > math.exp(5.0 + 3.72)
    # its floor is zero, the sign, not the sample's smallest amount: a value a hundred times under the
    # 0.1st percentile passes; zero, never seen in 300 values, does not
    assert cand.refine["lo"] == 0.0 and cand.refine["lo_open"] is True
    assert cand.rule.startswith("amount > 0.0 && ")
    # a linear tolerance of 25% of the span would stop far short of that percentile
    q_lo, q_hi = ranges.quantile(sorted(amounts), S.q_low), ranges.quantile(sorted(amounts), S.q_high)
    assert q_hi + S.range_tolerance * (q_hi - q_lo) < math.exp(5.0 + 3.72)


def test_a_symmetric_measurement_stays_on_the_linear_scale() -> None:
    rng = random.Random(5)
    heights = [round(rng.gauss(170.0, 8.0), 1) for _ in range(300)]
    assert not ranges.spreads_by_factors(sorted(heights), S)
    (cand,) = ranges.profile(col("height_cm", "double", heights), S)
    assert "log scale" not in cand.basis


def test_zero_is_refused_only_when_the_sample_could_have_shown_it() -> None:
    # 300 values, never zero: a zero at 1% would show (95%); they thin out towards 1 (seen twice), so
    # the low edge is no cut (ranges.cut_edges) and the floor is the sign
    stops = [1 + i % 40 + i % 7 for i in range(300)]
    (cand,) = ranges.profile(col("stops", "long", stops), S)
    assert cand.rule.startswith("stops > 0 &&") and cand.refine["lo_open"] is True
    (few,) = ranges.profile(col("stops", "long", stops[:100]), S)  # 0.99^100 = 0.37: no evidence
    assert few.rule.startswith("stops >= 0 &&")
    (seen,) = ranges.profile(col("stops", "long", [0, *stops]), S)  # zero seen: it is a good value
    assert seen.rule.startswith("stops >= 0 &&")


def test_a_good_event_at_zero_closes_the_floor() -> None:
    stops = col("stops", "long", [1 + i % 40 for i in range(300)])
    (cand,) = ranges.profile(stops, S)
    out = refine(cand, stops, [{"stops": 3}, {"stops": 0}], lambda i: f"event #{i}", S)
    assert out.candidate is not None and out.candidate.rule.startswith("stops >= 0 &&")
    assert "stops=0" in out.notes[0]


def test_a_prior_that_clips_the_top_keeps_the_learned_open_floor() -> None:
    ages = [20 + i % 100 + i % 7 for i in range(300)]  # a range learned past 130, never zero, no cut
    found = apply_priors(
        col("age", "long", ages), load_pack("core"), ranges.profile(col("age", "long", ages), S)
    )
    (cand,) = [c for c in found if c.kind == "range"]
    assert cand.rule == "age > 0 && age <= 130"


def test_a_double_that_keeps_to_a_short_menu_is_a_domain() -> None:
    deductibles = [[250.0, 500.0, 1000.0, 2500.0][i % 4] for i in range(300)]
    (cand,) = categories.profile(col("deductible", "double", deductibles), S)
    assert cand.rule == "deductible in [250.0, 500.0, 1000.0, 2500.0]"


def test_a_measurement_at_a_fixed_resolution_is_not_a_menu() -> None:
    rng = random.Random(2)
    temps = [round(rng.gauss(37.0, 0.4), 1) for _ in range(300)]  # ~25 values, each repeated often
    assert len(set(temps)) > S.max_menu_values
    assert categories.profile(col("temperature_c", "double", temps), S) == []
