"""Which relations are worth offering: orders between comparable fields or beyond chance, one `in` per
conclusion, whole-number thresholds as premises, and no implication a coincidence explains.

Each sample is built so the right answer follows from how it was made, not from the profiler."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import relations, units
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def _vitals(first: str, second: str) -> list[Column]:
    """Two independent readings whose ranges barely overlap: the first is below the second on every
    event because of where the ranges lie, not because one bounds the other."""
    rng = random.Random(7)
    low = [rng.randint(55, 100) for _ in range(300)]
    high = [rng.randint(99, 190) for _ in range(300)]
    pairs = [(a, b) if a <= b else (b, b) for a, b in zip(low, high, strict=True)]
    return [col(first, "long", [a for a, _ in pairs]), col(second, "long", [b for _, b in pairs])]


def test_an_order_between_unrelated_kinds_that_the_ranges_explain_is_not_offered() -> None:
    heart_rate, systolic = _vitals("heart_rate", "systolic_bp")
    assert relations.chance_of_order(list(zip(heart_rate.values, systolic.values, strict=True))) > 0.01
    assert relations.orders([heart_rate, systolic], S) == []


def test_two_quantities_of_one_kind_are_an_order_only_beyond_chance() -> None:
    # both money by their names: the order could mean something, but since round 15 the sample must
    # still show it (one test, the whole budget): these values keep it by where their ranges lie
    fee, amount = _vitals("fee", "amount")
    assert relations.orders([fee, amount], S) == []
    rng = random.Random(8)
    amounts = [rng.randint(100, 1000) for _ in range(300)]
    fees = [round(a * rng.uniform(0.5, 1.0)) for a in amounts]  # up to the whole amount
    (order,) = relations.orders([col("fee", "long", fees), col("amount", "long", amounts)], S)
    assert order.rule == "fee <= amount" and "one kind" in order.basis


def test_an_order_beyond_chance_needs_no_names() -> None:
    a = col("start", "long", list(range(100)))
    b = col("stop", "long", [i + (i % 3) for i in range(100)])  # stop tracks start: shuffled it fails
    (order,) = relations.orders([a, b], S)
    assert order.rule == "start <= stop" and "chance" in order.basis


def test_names_say_which_quantities_are_of_one_kind() -> None:
    assert units.same_kind("received_qty", "expected_qty")
    assert units.same_kind("tax", "gross_pay")  # both money
    assert units.same_kind("systolic_bp", "diastolic_bp")  # same last word
    assert units.same_kind("netPay", "grossPay")  # camelCase read as words
    assert not units.same_kind("heart_rate", "systolic_bp")
    assert not units.same_kind("refills", "dose_mg")
    assert not units.same_kind("total_hours", "total_amount")  # `total` says which, not what


def test_a_part_below_its_total_is_not_offered_beside_the_sum() -> None:
    rng = random.Random(3)
    gross = [round(rng.uniform(1000, 5000), 2) for _ in range(100)]
    tax = [round(g * rng.choice([0.1, 0.2, 0.3]), 2) for g in gross]
    net = [round(g - t, 2) for g, t in zip(gross, tax, strict=True)]
    cols = [col("net_pay", "double", net), col("tax", "double", tax), col("gross_pay", "double", gross)]
    found = {c.rule for c in relations.profile(cols, S)}
    assert any("net_pay + tax - gross_pay" in r for r in found)
    assert "net_pay <= gross_pay" not in found and "tax <= gross_pay" not in found


def test_implications_with_one_conclusion_from_one_column_are_one_rule() -> None:
    # most returns are damaged; the three other reasons (restocked) are the narrower premise
    reasons = ["damaged"] * 7 + ["wrong_size", "changed_mind", "not_as_described"]
    reason = [reasons[i % 10] for i in range(300)]
    restock = [r != "damaged" for r in reason]
    found = {
        c.rule
        for c in relations.implications(
            [col("reason", "string", reason), col("restock", "boolean", restock)], S
        )
    }
    # the three reasons are one `in`; the wider opposite premise (damaged => not restocked) is the
    # default, not a rule (test_relations_round2.py)
    assert found == {'!(reason in ["changed_mind", "not_as_described", "wrong_size"]) || restock'}


def test_a_whole_number_scale_gives_threshold_premises() -> None:
    acuity = [1 + i % 5 for i in range(300)]
    physician = [a <= 2 for a in acuity]
    cands = relations.implications(
        [col("acuity", "long", acuity), col("needs_physician", "boolean", physician)], S
    )
    rules = {c.rule for c in cands}
    assert "acuity > 2 || needs_physician" in rules  # the widest: not also `acuity > 1 || ...`
    assert "acuity > 1 || needs_physician" not in rules
    assert "acuity < 3 || !needs_physician" not in rules  # the wider opposite premise: the default
    assert len({c.id for c in cands}) == len(cands)


def test_an_implication_a_coincidence_explains_is_not_offered() -> None:
    # 15 roaming events in 300, a note set on 90% of events independently: all 15 roaming events
    # having a note is likely by chance (0.9^15 = 0.2), so "roaming implies a note" is no finding
    roaming = [i % 20 == 0 for i in range(300)]
    note = [None if (i % 10 == 5) else "n" for i in range(300)]
    cols = [col("roaming", "boolean", roaming), col("note", "string", note, optional=True)]
    assert relations.implications(cols, S) == []
    # the same premise on events where the note is mostly missing: now it says something
    rare = [("n" if r else None) if i % 7 else "n" for i, r in enumerate(roaming)]
    cols = [col("roaming", "boolean", roaming), col("note", "string", rare, optional=True)]
    assert [c.rule for c in relations.implications(cols, S)] == ["!roaming || note != null"]
