"""The third round of the method: one finding said once (redundant premises), fixed rates, balances and
independent sums, and the range of a quantity that is absent or an amount.

Each sample is built so the right answer follows from how it was made, not from the profiler."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import ranges, relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def _balances(n: int = 300) -> list[Column]:
    """Entries whose balance rises exactly on a credit: `after > before` and `before <= after`... are
    one order; `before` and `after` never equal (amounts are at least 1)."""
    rng = random.Random(11)
    before, after, credit = [], [], []
    for _ in range(n):
        b = round(rng.uniform(-5000, 20000), 2)
        up = rng.random() < 0.4
        a = round(b + (1 if up else -1) * rng.uniform(1, 900), 2)
        before.append(b)
        after.append(a)
        credit.append(up)
    return [col("before", "double", before), col("after", "double", after), col("credit", "boolean", credit)]


def test_an_order_premise_is_said_once_not_from_both_sides() -> None:
    found = [
        c for c in relations.implications(_balances(), S) if set(c.fields) == {"before", "after", "credit"}
    ]
    # `(after <= before) == !credit` and `(before > after) == !credit`, ... are one finding
    assert len(found) == 1
    assert found[0].rule.startswith("(after ")  # written in its names' order, for every conclusion alike


def _sales(n: int = 300) -> list[Column]:
    """A void sale has no amount, fee or tax; a real one an amount of 10-1000, a fee of 1-5 and a tax."""
    rng = random.Random(12)
    rows = []
    for _ in range(n):
        kind = rng.choice(["void", "sale", "sale", "refund"])
        if kind == "void":
            rows.append((kind, 0.0, 0.0, 0.0))
        else:
            amount = round(rng.uniform(10, 1000), 2)
            rows.append(
                (kind, amount, round(rng.uniform(1, 5), 2), round(amount * rng.uniform(0.05, 0.2), 2))
            )
    names = [("kind", "string"), ("amount", "double"), ("fee", "double"), ("tax", "double")]
    return [col(name, t, [r[i] for r in rows]) for i, (name, t) in enumerate(names)]


def test_premises_that_select_the_same_events_are_one_finding_and_the_category_is_kept() -> None:
    rules = [c.rule for c in relations.implications(_sales(), S)]
    # `kind == "void"`, `amount <= fee`, `amount < 5.0`, ... all select the void sales: one rule says so
    about_tax = [r for r in rules if "tax == 0.0" in r]
    assert len(about_tax) == 1, rules
    assert about_tax[0].startswith('kind != "void" || ')  # the premise that claims nothing past the sample


def test_a_narrower_premise_whose_conclusions_another_says_is_dropped() -> None:
    kind, amount, fee, tax = _sales()
    # `fee > amount` (no such event) is not offered; `amount <= tax` selects only voids: within `kind`'s
    small = col(
        "small",
        "boolean",
        [a == 0.0 and random.Random(i).random() < 0.7 for i, a in enumerate(amount.values)],
    )
    rules = [c.rule for c in relations.implications([kind, amount, fee, tax, small], S)]
    assert not any(r.startswith("!small ||") for r in rules), rules  # its voids are some of kind's voids


def _returns(n: int = 300, rate: float = 0.19) -> tuple[Column, Column]:
    rng = random.Random(13)
    sales = [round(math.exp(rng.uniform(math.log(200), math.log(5_000_000))), 2) for _ in range(n)]
    return col("sales", "double", sales), col("vat", "double", [round(s * rate, 2) for s in sales])


def test_a_fixed_rate_is_found_with_its_constant() -> None:
    sales, vat = _returns()
    (cand,) = relations.rates([sales, vat], S)
    assert cand.kind == "rate" and cand.fields == ("sales", "vat")
    assert cand.rule == "vat - 0.19 * sales <= 0.011 && 0.19 * sales - vat <= 0.011"


def test_a_ratio_of_many_digits_a_constant_base_or_a_shuffle_is_no_rate() -> None:
    sales, vat = _returns(rate=0.18731)  # fits only with 5 digits: a measurement, not a policy's number
    assert relations.rates([sales, vat], S) == []
    sales, vat = _returns()
    shuffled = list(vat.values)
    random.Random(14).shuffle(shuffled)
    assert relations.rates([sales, col("vat", "double", shuffled)], S) == []
    base = col("base", "double", [100.0] * 300)  # one base value fits any ratio
    assert relations.rates([base, col("fee", "double", [19.0] * 300)], S) == []


def test_a_rate_makes_its_orders_and_its_result_range_moot() -> None:
    sales, vat = _returns()
    rules = {c.rule for c in relations.profile([sales, vat], S)}
    assert "vat <= sales" not in rules and any("0.19 * sales" in r for r in rules)


def _weights(n: int = 200) -> list[Column]:
    rng = random.Random(15)
    dow = [rng.randint(38000, 52000) for _ in range(n)]
    payload = [rng.randint(5000, 25000) for _ in range(n)]
    fuel = [rng.randint(3000, 17000) for _ in range(n)]
    trip = [rng.randint(1000, f - 500) for f in fuel]
    zfw = [a + b for a, b in zip(dow, payload, strict=True)]
    tow = [a + b for a, b in zip(zfw, fuel, strict=True)]
    landing = [a - b for a, b in zip(tow, trip, strict=True)]
    cols = [("dow", dow), ("payload", payload), ("zfw", zfw), ("fuel", fuel), ("tow", tow)]
    return [col(name, "long", v) for name, v in [*cols, ("trip", trip), ("landing", landing)]]


def test_a_sum_the_others_imply_is_not_offered_and_a_second_sum_of_a_total_is() -> None:
    rules = {c.rule for c in relations.sums(_weights(), S)}
    assert "dow + payload == zfw" in rules and "zfw + fuel == tow" in rules
    assert "trip + landing == tow" in rules  # tow is already a total, but this is a finding of its own
    assert "dow + payload + fuel == tow" not in rules  # follows from the first two
    assert len(rules) == 3


def test_a_balance_of_three_is_found_with_its_signed_total() -> None:
    rng = random.Random(16)
    out = [round(rng.uniform(0, 9000), 2) for _ in range(200)]
    red = [round(rng.uniform(0, 900), 2) for _ in range(200)]
    inp = [round(rng.uniform(0, 9000), 2) for _ in range(200)]
    net = [round(a + b - c, 2) for a, b, c in zip(out, red, inp, strict=True)]  # goes below zero
    cols = [col("output_vat", "double", out), col("reduced_vat", "double", red)]
    cols += [col("input_vat", "double", inp), col("net_vat", "double", net)]
    (cand,) = relations.sums(cols, S)
    assert cand.kind == "balance" and cand.fields[-1] == "net_vat"
    assert cand.rule.startswith("output_vat + reduced_vat - input_vat - net_vat <= 0.011")


def test_a_quantity_absent_or_an_amount_gets_its_top_on_the_log_scale() -> None:
    rng = random.Random(17)
    amounts = [round(math.exp(rng.gauss(math.log(5000), 1.2)), 2) for _ in range(120)]
    values = sorted([0.0] * 180 + amounts)
    lo, hi = ranges.bounds(values, S, integer=False)
    assert lo == 0.0
    # on the linear scale (the 99.5% quantile of all values + 25% of the span) the next long-tail amount
    # is refused; the amounts' own log spread, widened by 25%, reaches a multiple past their top
    logs = sorted(math.log(v) for v in amounts)
    l_hi, l_lo = ranges.quantile(logs, S.q_high), ranges.quantile(logs, S.q_low)
    assert hi >= math.exp(l_hi + S.range_tolerance * (l_hi - l_lo)) * 0.999
    linear = ranges.quantile(values, S.q_high) * (1 + S.range_tolerance)
    assert hi > linear


def test_of_a_category_and_a_cut_that_select_the_same_events_the_category_is_kept() -> None:
    rng = random.Random(18)
    crops = [rng.choice(["beet", "wheat", "barley"]) for _ in range(300)]
    yields = [round(rng.uniform(40, 80) if c == "beet" else rng.uniform(2, 12), 2) for c in crops]
    moisture = [None if c == "beet" else round(rng.uniform(8, 25), 1) for c in crops]
    cols = [col("crop", "string", crops), col("yield_t", "double", yields)]
    cols.append(col("moisture", "double", moisture, optional=True))
    rules = [c.rule for c in relations.implications(cols, S)]
    # `yield_t < 20.0` says the same of the sample, but its cut lies in a gap the sample only brackets
    assert [r for r in rules if r.endswith("moisture != null")] == [
        '!(crop in ["barley", "wheat"]) || moisture != null'
    ], rules
