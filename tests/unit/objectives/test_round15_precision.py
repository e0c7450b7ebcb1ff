"""Round 15, precision (docs/objectives_round15_precision.md): an order between two quantities of one
kind (the names vouch for the pair) is still offered only when the sample shows it beyond chance.

The names make `a <= b` one hypothesis, so it gets the whole `relation_chance` (0.01), not a share of
it; but if a and b were unrelated, the order would hold on all n events with chance (1 - p)^n, p the
share of cross pairs (a_i, b_j) with a_i > b_j. Where the two ranges barely overlap that chance is
large: the sample would look the same without any bound, so it is no evidence of one (the case of
max(a) < min(b), p = 0, with a few crossing pairs). The expected verdicts below are worked from that
statement: chance_of_order's value is the statement's (1 - p)^n, checked by hand on a small case."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.settings import InferenceSettings
from tests.unit.objectives.test_range_scale_and_menus import col

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _rules(cols: list, settings: InferenceSettings = S) -> set[str]:  # type: ignore[type-arg]
    return {c.rule for c in relations.orders(cols, settings)}


def _apart() -> tuple[list[int], list[int]]:
    # a rest before a duty (600-900 min) and the duty's block time (100-610 min): 300 events, one
    # ordered pair each; the ranges cross only between 600 and 610, so unrelated values keep the order
    rng = random.Random(5)
    block = [rng.randint(100, 610) for _ in range(300)]
    rest = [max(b, rng.randint(600, 900)) for b in block]
    return block, rest


def test_chance_of_order_is_the_share_of_crossing_pairs() -> None:
    # a = 1, 3; b = 2, 4: of the four cross pairs only (3, 2) crosses, p = 1/4, (3/4)^2 over two events
    assert relations.chance_of_order([(1, 2), (3, 4)]) == pytest.approx(0.5625)


def test_one_kind_apart_by_range_is_not_an_order() -> None:
    block, rest = _apart()
    pairs = list(zip(block, rest, strict=True))
    assert relations.chance_of_order(pairs) > S.relation_chance  # the sample is no evidence of a bound
    assert _rules([col("block_minutes", "long", block), col("rest_before_min", "long", rest)]) == set()


def test_one_kind_that_reaches_its_bound_is_an_order() -> None:
    # a deposit that is a share of the price, up to the whole price: unrelated values would cross often
    rng = random.Random(6)
    price = [rng.randint(100, 1000) for _ in range(300)]
    deposit = [round(p * rng.uniform(0.5, 1.0)) for p in price]
    pairs = list(zip(deposit, price, strict=True))
    assert relations.chance_of_order(pairs) < 1e-9
    rules = _rules([col("deposit_amount", "long", deposit), col("price_amount", "long", price)])
    assert rules == {"deposit_amount <= price_amount"}


def test_the_chance_at_the_threshold_is_offered_and_just_over_it_is_not() -> None:
    block, rest = _apart()
    chance = relations.chance_of_order(list(zip(block, rest, strict=True)))
    cols = [col("block_minutes", "long", block), col("rest_before_min", "long", rest)]
    assert _rules(cols, replace(S, relation_chance=chance)) == {"block_minutes <= rest_before_min"}
    assert _rules(cols, replace(S, relation_chance=chance * 0.999)) == set()


def test_one_kind_gets_the_whole_budget_not_a_share() -> None:
    # beside the pair, four unrelated counts make twelve pairs searched for chance orders; the pair the
    # names vouch for is one hypothesis and is judged against relation_chance itself
    block, rest = _apart()
    chance = relations.chance_of_order(list(zip(block, rest, strict=True)))
    rng = random.Random(7)
    others = [col(f"count_{i}", "long", [rng.randint(0, 50) for _ in block]) for i in "wxyz"]
    cols = [col("block_minutes", "long", block), col("rest_before_min", "long", rest), *others]
    assert "block_minutes <= rest_before_min" in _rules(cols, replace(S, relation_chance=chance * 1.5))


def test_dates_are_not_judged_by_chance() -> None:
    # an interval's dates are ordered by what they are (a stay ends after it starts), however far apart
    starts = [f"2025-01-{d:02d}" for d in range(1, 29)] * 11
    ends = [f"2025-06-{d:02d}" for d in range(1, 29)] * 11
    rules = _rules([col("start_date", "string", starts), col("end_date", "string", ends)])
    assert rules == set()  # wholly apart: the ranges imply it (max(a) < min(b)), as before this round
    ends[0] = starts[5]  # one crossing event in the sample; unrelated dates would still keep the order
    starts[0] = starts[1]
    rules = _rules([col("start_date", "string", starts), col("end_date", "string", ends)])
    assert rules == {"start_date <= end_date"}
