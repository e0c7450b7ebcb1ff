"""The sixth round: evidence judged where it can be, and for the number of things tried.

- an implication's chance is taken over the events where its premise can be decided: a conclusion
  tied to the premise field's presence is no evidence of a relation (the presence rule says it);
- an order the names do not vouch for shares the chance budget among every pair searched;
- a count of more values than a menu, with gaps between the values the sample shows, is the run
  from its smallest to its largest value, not a list with holes in it.

Expected values come from the definitions (q^k over decided events; 0.01 over the pairs searched;
the whole numbers between the smallest and the largest value), worked out here by hand."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import categories, relations, units
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.refine import failing, refine
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def num(name: str, values: Sequence[Any], type_: str = "int", optional: bool = False) -> Column:
    return Column(FieldIR.model_validate({"name": name, "type": type_, "optional": optional}), list(values))


def premise_on(col: Column, covers: set[Any]) -> Any:
    return relations._Premise(col, col.name, f"{col.name} set", f"{col.name} == null", frozenset(covers))


# -- implications: chance where the premise is decided ------------------------------------------


def test_a_conclusion_tied_to_the_premise_fields_presence_has_no_chance_argument() -> None:
    # 40 events without a fuel reading (both ends null), 60 with both: "fuel_in set => fuel_out set"
    fuel_in = num("fuel_in", [None] * 40 + [i % 8 + 1 for i in range(60)], optional=True)
    fuel_out = num("fuel_out", [None] * 40 + [8] * 60, optional=True)
    conclusion = relations._Conclusion(fuel_out, "fuel_out", "fuel_out != null", lambda v: v is not None)
    rows = list(zip(fuel_in.values, fuel_out.values, strict=True))
    premise = premise_on(fuel_in, set(range(1, 9)))
    # over all 100 events q = 0.6 and 0.6^60 looks like proof; where fuel_in is set q = 1: chance 1
    assert relations.chance_of_implication(rows, premise, conclusion) == 1.0


def test_the_base_rate_is_counted_over_decided_events_only() -> None:
    # premise field null on 50 events (conclusion false there), set on 50: conclusion holds on 25 of
    # those, and the premise (value 1) holds on 10 of them, all with the conclusion
    p_values = [None] * 50 + [1] * 10 + [2] * 40
    c_values = [False] * 50 + [True] * 10 + [True] * 15 + [False] * 25
    p = num("p", p_values, optional=True)
    c = Column(FieldIR(name="c", type="boolean", optional=False), c_values)
    conclusion = relations._Conclusion(c, "c", "c", lambda v: v is True)
    rows = list(zip(p_values, c_values, strict=True))
    chance = relations.chance_of_implication(rows, premise_on(p, {1}), conclusion)
    assert chance == pytest.approx(0.5**10)  # q = 25 / 50, not 25 / 100


def test_no_presence_implication_of_two_ends_that_are_null_together() -> None:
    rng = random.Random(3)
    n_null, n_set = 60, 240
    days = [rng.randint(1, 21) for _ in range(n_null + n_set)]
    fuel_in = [None] * n_null + [rng.randint(1, 8) for _ in range(n_set)]
    fuel_out = [None] * n_null + [8] * n_set
    cols = [
        num("rental_days", days),
        num("fuel_in_eighths", fuel_in, optional=True),
        num("fuel_out_eighths", fuel_out, optional=True),
    ]
    found = relations.implications(cols, S)
    presence_conclusions = [c.rule for c in found if "fuel_out_eighths != null" in c.rule]
    assert presence_conclusions == []


# -- orders: the chance budget shared among the pairs searched ----------------------------------


def _order_pair() -> tuple[Column, Column]:
    # a = i mod 10, b = a + 3: a pair a_i > b_j needs a_i - a_j > 3, 21 of 100 cross pairs, so the
    # chance of no failure in 30 events is 0.79^30 = 8.4e-4: within 1% for one pair, not for many
    a = [i % 10 for i in range(30)]
    return num("apples", a), num("distance", [x + 3 for x in a])


def test_an_order_beyond_chance_for_one_pair_is_offered() -> None:
    a, b = _order_pair()
    assert not units.same_kind(a.name, b.name)
    assert relations.chance_of_order(list(zip(a.values, b.values, strict=True))) == pytest.approx(0.79**30)
    rules = [c.rule for c in relations.orders([a, b], S)]  # 2 pairs searched: 0.005 each
    assert rules == ["apples <= distance"]


def test_the_same_order_among_many_searched_pairs_is_not() -> None:
    a, b = _order_pair()
    rng = random.Random(5)
    others = [num(f"x{k}", [rng.randint(0, 1000) for _ in range(30)]) for k in range(12)]
    # 14 numbers: at least 14 * 13 = 182 pairs, 0.01 / 182 = 5.5e-5 < 8.4e-4
    rules = [c.rule for c in relations.orders([a, b, *others], S)]
    assert "apples <= distance" not in rules


# -- a count's run of whole numbers -------------------------------------------------------------


def _counts(values: Sequence[int], each: int = 12) -> list[int]:
    return [v for v in values for _ in range(each)]


def test_a_count_with_gaps_is_its_run_from_smallest_to_largest() -> None:
    seen = [v for v in range(28) if v not in (20, 22, 24, 25, 26)]  # 23 of the 28 numbers 0..27
    col = num("lost", _counts(seen))
    [cand] = categories.profile(col, S)
    assert cand.rule == "lost >= 0 && lost <= 27"
    events = [{"lost": v} for v in (0, 20, 25, 27, 28, -1)]
    assert failing(cand.rule, events) == [4, 5]  # the gaps pass, past the ends does not


def test_the_run_widens_past_a_known_good_value() -> None:
    seen = [v for v in range(24) if v not in (20, 22)]  # 22 values, within max_categories
    col = num("lost", _counts(seen))
    [cand] = categories.profile(col, S)
    widened = refine(cand, col, [{"lost": 31}], lambda i: f"event {i}", S).candidate
    assert widened is not None
    assert failing(widened.rule, [{"lost": 31}, {"lost": 29}]) == []


def test_consecutive_counts_few_values_and_sparse_menus_stay_lists() -> None:
    consecutive = num("position", _counts(range(1, 19)))  # no gap: the list is the run already
    assert categories.profile(consecutive, S)[0].rule.startswith("position in [1, 2, 3")
    few = num("cards", _counts([0, 1, 2, 3, 4, 6]))  # a menu's worth of values: a list
    assert categories.profile(few, S)[0].rule == "cards in [0, 1, 2, 3, 4, 6]"
    # pack sizes: 12 values over 3..360, under half the whole numbers between them: a menu
    packs = [3, 5, 7, 10, 14, 20, 28, 30, 56, 90, 180, 360]
    assert categories.profile(num("quantity", _counts(packs)), S)[0].rule.startswith("quantity in [3, 5")
    # exactly half the span is still a run: 11 of the 22 numbers 0..21 (every other one)
    half = num("goals", _counts([*range(0, 22, 2)[:10], 21]))
    assert categories.filled_run(half, sorted(set(half.present)), S)
    assert not categories.filled_run(num("d", [1.0] * 20, "double"), [1.0] * 11, S)


# -- a threshold premise is one of the cuts its values allow ------------------------------------


def _threshold_case(top: list[int], rest: list[int]) -> list[Column]:
    # c holds on every event of the top values (10 events) and on 50 of the other 90: q = 0.6, and
    # 0.6^10 = 0.006 is within 1% for one try, not for the 99 cuts between 100 distinct values
    values = top + rest
    holds = [True] * len(top) + [i < 50 for i in range(len(rest))]
    return [num("p", values), Column(FieldIR(name="c", type="boolean", optional=False), holds)]


def test_a_premise_of_one_cut_keeps_the_whole_budget() -> None:
    cols = _threshold_case([1] * 10, [0] * 90)  # p in {0, 1}: one cut
    rules = [c.rule for c in relations.implications(cols, S)]
    assert any(failing(r, [{"p": 1, "c": False}]) for r in rules)


def test_a_threshold_picked_among_many_cuts_shares_the_budget() -> None:
    cols = _threshold_case(list(range(90, 100)), list(range(90)))  # 100 distinct values: 99 cuts
    rules = [c.rule for c in relations.implications(cols, S)]
    # the top run (p >= 90, chance 0.006 > 0.01 / 99) is not offered; the bottom one (p < 50 under
    # which c held on all 50 events, 0.6^50) may be, and it admits p = 95 with c false
    assert all(not failing(r, [{"p": 95, "c": False}]) for r in rules)


def test_cut_share_is_one_over_the_gaps_between_values() -> None:
    assert relations._cut_share([0, 1]) == 1.0
    assert relations._cut_share([5]) == 1.0
    assert relations._cut_share(list(range(100))) == pytest.approx(1 / 99)


def test_a_premise_never_decided_is_no_evidence() -> None:
    p = num("p", [None] * 20, optional=True)
    c = Column(FieldIR(name="c", type="boolean", optional=False), [True] * 20)
    conclusion = relations._Conclusion(c, "c", "c", lambda v: v is True)
    rows = list(zip(p.values, c.values, strict=True))
    assert relations.chance_of_implication(rows, premise_on(p, {1}), conclusion) == 1.0


# -- a field's being there as a premise ----------------------------------------------------------


def _prescriptions() -> list[Column]:
    # 40 scheduled drugs, each with the prescriber's registration; 60 unscheduled, 30 of them with one
    schedule = ["CII"] * 20 + ["CIV"] * 20 + [None] * 60
    registration = ["AB1234563"] * 40 + ["AB1234563"] * 30 + [None] * 30
    return [
        Column(FieldIR(name="dea_schedule", type="string", optional=True), schedule),
        Column(FieldIR(name="prescriber_dea", type="string", optional=True), registration),
    ]


def test_a_field_being_set_is_a_premise_judged_over_all_events() -> None:
    # registration set on 70 of 100, and on all 40 scheduled: 0.7^40 = 6e-7 if unrelated; where the
    # schedule is set the registration always is, so no value of it is evidence: its presence is
    rules = [c.rule for c in relations.implications(_prescriptions(), S)]
    assert "dea_schedule == null || prescriber_dea != null" in rules
    rule = "dea_schedule == null || prescriber_dea != null"
    events: list[dict[str, Any]] = [
        {"dea_schedule": "CII", "prescriber_dea": None},
        {"dea_schedule": None, "prescriber_dea": None},
        {"dea_schedule": "CV", "prescriber_dea": "AB1234563"},
    ]
    assert failing(rule, events) == [0]


def test_the_presence_premise_is_one_way_only() -> None:
    # the registration is set on 30 unscheduled events: its presence implies nothing about a schedule
    rules = [c.rule for c in relations.implications(_prescriptions(), S)]
    assert not any(r.startswith("prescriber_dea == null ||") for r in rules)
