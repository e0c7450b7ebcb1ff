"""The second round of the method: products, thresholds on measured quantities, zero as a conclusion,
one rule per premise, defaults and equivalences, two fields against a third, and no relation a sum
already says.

Each sample is built so the right answer follows from how it was made, not from the profiler."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def _stays(n: int = 200) -> tuple[Column, Column, Column]:
    rng = random.Random(3)
    nights = [rng.choice([1, 2, 3, 5, 7, 14]) for _ in range(n)]
    rate = [round(rng.uniform(40, 400), 2) for _ in range(n)]
    total = [round(a * b, 2) for a, b in zip(nights, rate, strict=True)]
    return col("nights", "long", nights), col("rate", "double", rate), col("total", "double", total)


def test_a_total_that_is_a_product_of_two_fields_is_found() -> None:
    nights, rate, total = _stays()
    (cand,) = relations.products([nights, rate, total], S)
    assert cand.kind == "product" and cand.fields == ("nights", "rate", "total")
    assert cand.rule == ("double(nights) * rate - total <= 0.011 && total - double(nights) * rate <= 0.011")


def test_a_product_that_holds_nowhere_else_and_a_constant_factor_are_not_products() -> None:
    nights, rate, total = _stays()
    shuffled = list(total.values)
    random.Random(5).shuffle(shuffled)
    assert relations.products([nights, rate, col("total", "double", shuffled)], S) == []
    one = col("units", "long", [1] * len(rate.values))  # total == 1 * rate: a copy, not a product
    assert relations.products([one, rate, col("copy", "double", list(rate.values))], S) == []


def test_the_factor_under_its_product_is_not_an_order_of_its_own() -> None:
    nights, rate, total = _stays()
    rules = {c.rule for c in relations.profile([nights, rate, total], S)}
    assert "rate <= total" not in rules  # nights >= 1: the product already says it
    assert any(" * rate" in r for r in rules)


def test_the_roundest_threshold_between_the_sample_values_is_chosen() -> None:
    assert relations.roundest(24.8, 25.3, closed_low=True) == 25.0
    assert relations.roundest(24.1, 24.9, closed_low=True) == 24.5
    assert relations.roundest(59.9, 60.0, closed_low=True) == 59.9  # 60 is not below the run's 60.0
    assert relations.roundest(95.0, 130.0, closed_low=False) == 100.0


def _receipts(n: int = 300) -> tuple[Column, Column]:
    """A receipt for anything above 25, and for half of what is below."""
    rng = random.Random(11)
    amount = [round(rng.lognormvariate(3.5, 1.0), 2) for _ in range(n)]
    receipt = [a > 25 or rng.random() < 0.5 for a in amount]
    return col("amount", "double", amount), col("receipt", "boolean", receipt)


def test_a_threshold_on_a_measured_quantity_is_a_premise() -> None:
    amount, receipt = _receipts()
    rules = {c.rule for c in relations.implications([amount, receipt], S)}
    assert "amount <= 25.0 || receipt" in rules


def test_a_measured_quantity_unrelated_to_the_flag_gives_no_threshold() -> None:
    amount, _ = _receipts()
    coin = col("receipt", "boolean", [random.Random(2).random() < 0.5 for _ in amount.values])
    assert relations.implications([amount, coin], S) == []


def _machines(n: int = 300) -> list[Column]:
    rng = random.Random(13)
    status = [rng.choice(["running", "running", "idle", "setup"]) for _ in range(n)]
    rpm = [0 if s == "idle" else rng.randint(0, 3000) for s in status]
    return [col("status", "string", status), col("rpm", "long", rpm)]


def test_zero_is_a_conclusion_as_the_absence_of_a_quantity() -> None:
    rules = {c.rule for c in relations.implications(_machines(), S)}
    assert 'status != "idle" || rpm == 0' in rules


def test_conclusions_under_one_premise_are_one_rule() -> None:
    rng = random.Random(17)
    kind = [rng.choice(["house", "house", "flat", "land"]) for _ in range(300)]
    beds = [0 if k == "land" else rng.randint(0, 5) for k in kind]
    baths = [0 if k == "land" else rng.randint(1, 3) for k in kind]
    cols = [col("kind", "string", kind), col("beds", "long", beds), col("baths", "long", baths)]
    rules = {c.rule for c in relations.implications(cols, S)}
    assert 'kind != "land" || (beds == 0 && baths == 0)' in rules
    assert 'kind != "land" || beds == 0' not in rules


def test_a_rare_premise_beyond_chance_is_confident_enough_to_offer() -> None:
    rng = random.Random(19)
    kind = ["land" if i % 20 == 0 else rng.choice(["house", "flat"]) for i in range(300)]  # 15 plots
    beds = [0 if k == "land" else rng.randint(1, 5) for k in kind]
    (cand,) = relations.implications([col("kind", "string", kind), col("beds", "long", beds)], S)
    assert cand.support == 15 and cand.strength > S.min_confidence  # 15/(15+30) alone would be 0.33


def _claims(n: int = 300) -> list[Column]:
    rng = random.Random(23)
    risk = [rng.choice(["low", "low", "medium", "high"]) for _ in range(n)]
    refer = [r == "high" for r in risk]
    return [col("risk", "string", risk), col("refer", "boolean", refer)]


def test_the_narrower_premise_is_the_rule_and_the_wider_the_default() -> None:
    rules = {c.rule for c in relations.implications(_claims(), S)}
    assert rules == {'risk != "high" || refer'}


def _inspections(n: int = 300) -> list[Column]:
    rng = random.Random(29)
    plan = [rng.choice([(32, 2), (50, 3), (80, 5), (125, 7), (200, 10)]) for _ in range(n)]
    defects = [rng.choice([0, 0, 0, 1, 1, 2, 3, 4, 6, 9, 12]) for _ in range(n)]
    accept = [a for _, a in plan]
    result = ["pass" if d <= a else "fail" for d, a in zip(defects, accept, strict=True)]
    return [
        col("sample_size", "long", [s for s, _ in plan]),
        col("acceptance_number", "long", accept),
        col("defects", "long", defects),
        col("result", "string", result),
    ]


def test_two_fields_against_a_third_is_one_equivalence() -> None:
    rules = {c.rule for c in relations.implications(_inspections(), S)}
    assert '(defects <= acceptance_number) == (result == "pass")' in rules
    # its halves and the thresholds on one of its fields (`defects >= 12` fails) are not offered beside it
    assert not any(r.endswith('result == "fail"') or r.endswith('result == "pass"') for r in rules)


def test_an_order_premise_a_coincidence_explains_is_not_offered() -> None:
    cols = _inspections()
    shuffled = list(cols[3].values)
    random.Random(31).shuffle(shuffled)
    rules = {c.rule for c in relations.implications([*cols[:3], col("result", "string", shuffled)], S)}
    assert not any("acceptance_number" in r and "result" in r for r in rules)


def test_what_holds_among_the_fields_of_a_sum_is_not_a_relation_of_its_own() -> None:
    rng = random.Random(37)
    regular = [round(rng.uniform(20, 40), 1) for _ in range(300)]
    overtime = [round(rng.uniform(0.5, 10), 1) if r >= 38 else 0.0 for r in regular]
    total = [round(r + o, 1) for r, o in zip(regular, overtime, strict=True)]
    cols = [
        col("regular", "double", regular),
        col("overtime", "double", overtime),
        col("total", "double", total),
    ]
    rules = [c.rule for c in relations.profile(cols, S)]
    assert any("regular + overtime" in r for r in rules)
    assert not any("overtime == 0.0" in r for r in rules)  # total > regular => overtime: the sum says it


def test_each_searched_order_premise_gets_its_share_of_the_chance_budget() -> None:
    rng = random.Random(41)
    cols = [col(f"n{i}", "long", [rng.randint(0, 50) for _ in range(300)]) for i in range(4)]
    premises = relations._order_premises(cols, S)
    assert premises and {p.chance_share for p in premises} == {1 / 12}  # 4 fields, 12 ordered pairs
