"""The seventh round: totals of five or more parts.

Expected values come from the definitions (a bill's total is the sum of its lines; a part that goes
below zero or above the total is no line of a plain sum), worked out here by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.refine import passes
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def holds_event(rule: str, event: dict[str, Any]) -> bool:
    return passes(compile_expr(rule), event)


def double(name: str, values: list[float]) -> Column:
    return Column(FieldIR(name=name, type="double"), values)


LINES = ("base_fee", "water_charge", "wastewater_charge", "stormwater_charge", "vat_amount")


def water_bills(n: int = 300, seed: int = 7) -> dict[str, list[float]]:
    rng = random.Random(seed)
    bills: dict[str, list[float]] = {k: [] for k in (*LINES, "consumption_m3", "total_amount")}
    for _ in range(n):
        m3 = round(rng.uniform(20, 300), 1)
        base = rng.choice([60.0, 84.0, 120.0])
        water = round(m3 * 2.07, 2)
        waste = round(m3 * 2.61, 2)
        storm = round(rng.uniform(10, 90), 2)
        vat = round(0.07 * (base + water), 2)
        for k, v in zip((*LINES, "consumption_m3"), (base, water, waste, storm, vat, m3), strict=True):
            bills[k].append(v)
        bills["total_amount"].append(round(base + water + waste + storm + vat, 2))
    return bills


def test_a_total_of_five_lines_is_one_sum() -> None:
    bills = water_bills()
    cols = [double(k, v) for k, v in bills.items()]
    found = [c for c in relations.sums(cols, S) if c.kind == "sum"]
    assert [set(c.fields) for c in found] == [{*LINES, "total_amount"}]
    rule = found[0].rule
    event = {"base_fee": 60.0, "water_charge": 20.7, "wastewater_charge": 26.1, "stormwater_charge": 15.0}
    event |= {"vat_amount": 5.65, "consumption_m3": 10.0}
    assert holds_event(rule, event | {"total_amount": 127.45})
    assert not holds_event(rule, event | {"total_amount": 112.45})  # the stormwater line left out
    assert not holds_event(rule, event | {"total_amount": 127.47})  # 0.02 off: beyond the cents' tolerance
    assert holds_event(rule, event | {"total_amount": 127.46})  # 0.01 off: rounding of the lines


def test_six_lines_are_found_and_a_subtotal_makes_the_long_sum_moot() -> None:
    bills = water_bills(seed=3)
    rng = random.Random(5)
    meter_rent = [rng.choice([1.5, 2.5, 4.0]) for _ in bills["total_amount"]]
    bills["total_amount"] = [round(t + r, 2) for t, r in zip(bills["total_amount"], meter_rent, strict=True)]
    bills["meter_rent"] = meter_rent
    cols = [double(k, v) for k, v in bills.items()]
    found = [set(c.fields) for c in relations.sums(cols, S) if c.kind == "sum"]
    assert found == [{*LINES, "meter_rent", "total_amount"}]
    # with a subtotal of the charges (net) beside it, the total is net + VAT + the rest: the six-line
    # sum follows from the two short ones and is not said again
    net = [
        round(b + w + s + m, 2)
        for b, w, s, m in zip(
            bills["base_fee"], bills["water_charge"], bills["wastewater_charge"], meter_rent, strict=True
        )
    ]
    cols.append(double("net_charges", net))
    found = [set(c.fields) for c in relations.sums(cols, S) if c.kind == "sum"]
    assert {"base_fee", "water_charge", "wastewater_charge", "meter_rent", "net_charges"} in found
    assert {*LINES, "meter_rent", "total_amount"} not in found
    assert all(len(f) <= 5 for f in found)


def test_a_part_that_goes_below_zero_or_above_the_total_is_no_line() -> None:
    bills = water_bills(seed=9)
    # a credit (negative on some bills) in place of the stormwater line: no plain sum of lines
    rng = random.Random(2)
    credit = [round(rng.uniform(-30, 30), 2) for _ in bills["total_amount"]]
    total = [
        round(t - s + c, 2)
        for t, s, c in zip(bills["total_amount"], bills["stormwater_charge"], credit, strict=True)
    ]
    cols = [double(k, v) for k, v in bills.items() if k not in ("stormwater_charge", "total_amount")]
    cols += [double("credit", credit), double("total_amount", total)]
    assert [c for c in relations.sums(cols, S) if c.kind == "sum"] == []
    # the same lines all at or above zero are found again (so it was the sign that kept them out)
    shifted = [round(c + 30.0, 2) for c in credit]
    total2 = [round(t + 30.0, 2) for t in total]
    cols = [*cols[:-2], double("credit", shifted), double("total_amount", total2)]
    assert len([c for c in relations.sums(cols, S) if c.kind == "sum"]) == 1


def test_seventeen_candidate_lines_are_not_searched_though_five_add_up() -> None:
    # 17 small counts under a total that five of them add up to exactly: more candidates than
    # MAX_LONG_CANDIDATES (16), so none is tried (a table of many small counts is not a bill); c0..c4
    # are at least 2 each, so the total (>= 10) is above every other count (<= 9) and all 17 qualify
    rng = random.Random(4)
    counts = {f"c{i}": [rng.randint(2 if i < 5 else 0, 9) for _ in range(100)] for i in range(17)}
    total = [sum(counts[f"c{i}"][j] for i in range(5)) for j in range(100)]
    cols = [Column(FieldIR(name=k, type="long"), v) for k, v in counts.items()]
    tot = Column(FieldIR(name="total", type="long"), total)
    assert relations._long_sums(tot, [*cols, tot], S) == []
    # one count fewer: 16 candidates are searched, and the five lines are found
    del cols[-1]
    found = relations._long_sums(tot, [*cols, tot], S)
    assert [sorted(c.name for c in parts) for parts in found] == [["c0", "c1", "c2", "c3", "c4"]]


def _bill_beside(extra: Callable[[list[int], int], list[Any]], kind: str = "long") -> list[list[str]]:
    """Twelve candidate lines l0..l11 (2..9 each), a total of l0..l4, and five more columns of `kind`
    made by `extra(total, k)`: the long sums found, as sorted names."""
    rng = random.Random(8)
    lines = {f"l{i}": [rng.randint(2, 9) for _ in range(100)] for i in range(12)}
    total = [sum(lines[f"l{i}"][j] for i in range(5)) for j in range(100)]
    cols = [Column(FieldIR(name=k, type="long"), v) for k, v in lines.items()]
    cols += [Column(FieldIR(name=f"x{k}", type=kind), extra(total, k)) for k in range(5)]
    tot = Column(FieldIR(name="total", type="long"), total)
    return [sorted(c.name for c in p) for p in relations._long_sums(tot, [*cols, tot], S)]


FIVE = [["l0", "l1", "l2", "l3", "l4"]]


def test_columns_above_the_total_are_no_lines_and_do_not_count_to_the_cap() -> None:
    # five meter readings always above the bill's total are no lines: 12 candidates, not 17
    assert _bill_beside(lambda total, k: [t + 100 + k for t in total]) == FIVE


def test_columns_always_zero_are_no_lines_and_do_not_count_to_the_cap() -> None:
    assert _bill_beside(lambda total, k: [0] * len(total)) == FIVE


def test_columns_of_another_type_are_no_lines_and_do_not_count_to_the_cap() -> None:
    # five double columns within the total's range: CEL adds only like types, so no line of a long total
    assert _bill_beside(lambda total, k: [float(k) + 0.5] * len(total), kind="double") == FIVE


def test_long_lines_under_a_double_total_are_no_long_sum() -> None:
    # the five lines add up to the total's value, but the total is a double: `l0 + ... + l4` is a long,
    # and CEL does not add or compare a long with a double, so no rule can say it
    rng = random.Random(11)
    lines = {f"l{i}": [rng.randint(2, 9) for _ in range(100)] for i in range(5)}
    total = [float(sum(lines[f"l{i}"][j] for i in range(5))) for j in range(100)]
    cols = [Column(FieldIR(name=k, type="long"), v) for k, v in lines.items()]
    tot = Column(FieldIR(name="total", type="double"), total)
    assert relations._long_sums(tot, [*cols, tot], S) == []


# --- a cut in a measured quantity concluding a category's value (relations.implications) ------------


def parcels(n: int = 300, seed: int = 6) -> tuple[Column, Column, Column]:
    """Small parcels (at most 1 kg) and standard ones; a signature asked above 25 kg and for half below."""
    rng = random.Random(seed)
    product = [rng.choice(["small", "standard"]) for _ in range(n)]
    weight = [round(rng.uniform(0.05, 1.0) if p == "small" else rng.uniform(0.3, 31.5), 2) for p in product]
    signed = [w > 25.0 or rng.random() < 0.5 for w in weight]
    return (
        Column(FieldIR(name="product", type="string"), product),
        Column(FieldIR(name="weight_kg", type="double"), weight),
        Column(FieldIR(name="signed", type="boolean"), signed),
    )


def test_a_cut_in_a_measured_quantity_does_not_conclude_a_category() -> None:
    product, weight, _ = parcels()
    # every parcel over 1 kg is a standard one: the product sets the weight's range, and the cut is
    # where the sample's two groups part, not a rule of its own
    rules = [c.rule for c in relations.implications([product, weight], S)]
    assert not any("weight_kg" in r and "product ==" in r for r in rules)


def test_a_cut_in_a_measured_quantity_still_concludes_a_flag() -> None:
    _, weight, signed = parcels()
    rules = [c.rule for c in relations.implications([weight, signed], S)]
    # the cut the roundest in the gap between the last unsigned weight and the next (24.7)
    assert any(r.startswith("weight_kg <= 2") and r.endswith(" || signed") for r in rules)


def test_a_verdict_of_two_strings_decided_at_a_threshold_is_a_flag_and_still_concluded() -> None:
    # a part fails when its deviation is above 0.5 mm and passes otherwise: the number decides the
    # verdict both ways, so the verdict is a flag by another name (as `failed` would be), not a category
    # that sets the number's range
    rng = random.Random(3)
    dev = [round(rng.uniform(0.0, 1.2), 3) for _ in range(300)]
    verdict = ["fail" if d > 0.5 else "pass" for d in dev]
    cols = [
        Column(FieldIR(name="deviation_mm", type="double"), dev),
        Column(FieldIR(name="verdict", type="string"), verdict),
    ]
    rules = [c.rule for c in relations.implications(cols, S) if "verdict" in c.fields]
    assert rules, "no rule ties the verdict to the deviation"
    # a part well inside the tolerance marked failed breaks the rule; passed, or well out and failed, holds
    assert not all(holds_event(r, {"deviation_mm": 0.2, "verdict": "fail"}) for r in rules)
    assert all(holds_event(r, {"deviation_mm": 0.2, "verdict": "pass"}) for r in rules)
    assert all(holds_event(r, {"deviation_mm": 0.9, "verdict": "fail"}) for r in rules)


def test_a_cut_concluding_that_a_string_field_is_set_still_gives_a_rule() -> None:
    # a receipt's number is required above 25 (and some below carry one too): that the field is set is
    # no category's value, so the cut in the amount concludes it
    rng = random.Random(12)
    amount = [round(rng.uniform(1.0, 80.0), 2) for _ in range(300)]
    receipt = [f"R{i:05d}" if a > 25.0 or rng.random() < 0.5 else None for i, a in enumerate(amount)]
    cols = [
        Column(FieldIR(name="amount", type="double"), amount),
        Column(FieldIR(name="receipt_no", type="string", optional=True), receipt),
    ]
    rules = [c.rule for c in relations.implications(cols, S) if c.fields == ("amount", "receipt_no")]
    assert rules, "no rule ties the receipt to the amount"
    assert not all(holds_event(r, {"amount": 60.0, "receipt_no": None}) for r in rules)
    assert all(holds_event(r, {"amount": 60.0, "receipt_no": "R1"}) for r in rules)
    assert all(holds_event(r, {"amount": 10.0, "receipt_no": None}) for r in rules)


def test_a_cut_at_zero_is_the_quantitys_presence_and_still_concludes_a_category() -> None:
    # a fine is charged only when a loan comes back late: no fine on an open loan
    rng = random.Random(9)
    status = [rng.choice(["open", "returned", "returned"]) for _ in range(300)]
    fine = [
        round(rng.uniform(0.25, 10.0), 2) if s == "returned" and rng.random() < 0.3 else 0.0 for s in status
    ]
    cols = [
        Column(FieldIR(name="loan_status", type="string"), status),
        Column(FieldIR(name="fine_amount", type="double"), fine),
    ]
    rules = [c.rule for c in relations.implications(cols, S)]
    assert 'fine_amount <= 0.0 || loan_status == "returned"' in rules


def test_a_category_premise_still_concludes_a_category() -> None:
    # not the cut: a category's value under which another category's value always held stays
    rng = random.Random(4)
    kind = [rng.choice(["ev", "ev", "diesel", "petrol"]) for _ in range(300)]
    unit = ["kWh" if k == "ev" else "L" for k in kind]
    cols = [
        Column(FieldIR(name="kind", type="string"), kind),
        Column(FieldIR(name="unit", type="string"), unit),
    ]
    rules = [c.rule for c in relations.implications(cols, S)]
    assert any(r.startswith('kind != "ev" || unit == "kWh"') or 'unit == "kWh"' in r for r in rules)


# --- without a domain, the priors every domain shares (objectives/infer.py) ---------------------------


def _latitudes(pack: Any) -> list[str]:
    import json

    from dana_workflows.objectives.infer import Boundary, infer_boundary
    from dana_workflows.objectives.sample import parse_sample

    rng = random.Random(21)
    fields = [FieldIR(name="latitude", type="double")]
    events = [{"latitude": round(rng.uniform(-80.0, 88.0), 4)} for _ in range(300)]
    sample = parse_sample([json.dumps(e) for e in events[:200]], fields, "sample")
    holdout = parse_sample([json.dumps(e) for e in events[200:]], fields, "holdout")
    result = infer_boundary(Boundary("input", {f.name: f for f in fields}, sample, holdout), pack, S)
    return [p.rule for p in result.proposals]


def test_without_a_domain_the_world_bounds_a_latitude() -> None:
    from dana_workflows.objectives.domain_packs import load_pack

    rules = _latitudes(None)
    # a latitude lies in [-90, 90] whatever the sample: the learned range (88 + 25% of the span) is
    # clipped there, as with the core pack named
    assert rules == _latitudes(load_pack("core"))
    [rule] = rules
    assert holds_event(rule, {"latitude": 90.0})
    assert not holds_event(rule, {"latitude": 90.5})
    assert not holds_event(rule, {"latitude": -90.5})


def test_a_sum_that_holds_on_the_first_events_only_is_no_sum() -> None:
    # the five lines add up to the total on the first 8 bills (the probe) but not on the later ones
    bills = water_bills(seed=15)
    bills["total_amount"] = [t if i < 8 else round(t + 1.0, 2) for i, t in enumerate(bills["total_amount"])]
    cols = [double(k, v) for k, v in bills.items()]
    assert len(relations._long_sums(cols[-1], cols, S)) == 1  # the probe passes it on
    assert [c for c in relations.sums(cols, S) if c.kind == "sum"] == []  # every event decides


def test_lines_each_missing_on_some_bills_are_probed_where_they_are_set() -> None:
    # each column is missing on every sixth bill, in turn (six columns): no bill sets them all, but
    # the five lines are all set on one bill in six, and there they add up to the total
    bills = water_bills(seed=16)
    cols = []
    for j, name in enumerate((*LINES, "consumption_m3")):
        vals: list[Any] = [None if i % 6 == j else v for i, v in enumerate(bills[name])]
        cols.append(Column(FieldIR(name=name, type="double", optional=True), vals))
    total = double("total_amount", bills["total_amount"])
    found = relations._long_sums(total, [*cols, total], S)
    assert [sorted(c.name for c in parts) for parts in found] == [sorted(LINES)]


def test_two_optional_columns_never_set_together_do_not_hide_the_bills_lines() -> None:
    # a card surcharge shown on card payments and a transfer fee on transfers, both paid separately
    # (not lines of the bill): the five lines still add up to the total
    bills = water_bills()
    n = len(bills["total_amount"])
    cols = [double(k, v) for k, v in bills.items()]
    cols += [
        Column(
            FieldIR(name="card_fee_info", type="double", optional=True),
            [1.5 if i % 2 == 0 else None for i in range(n)],
        ),
        Column(
            FieldIR(name="transfer_fee_info", type="double", optional=True),
            [None if i % 2 == 0 else 0.5 for i in range(n)],
        ),
    ]
    found = [set(c.fields) for c in relations.sums(cols, S) if c.kind == "sum"]
    assert found == [{*LINES, "total_amount"}]


def test_lines_never_set_together_are_no_sum() -> None:
    # a payment fee on the bill: a card fee on card payments (even bills), a transfer fee on transfers
    # (odd bills); the total is the five lines plus whichever fee is set. Each fee with the five lines
    # is a sum; no set of parts holding both fees is, as no bill shows them together
    bills = water_bills(seed=17)
    n = len(bills["total_amount"])
    card = [1.5 if i % 2 == 0 else None for i in range(n)]
    transfer = [None if i % 2 == 0 else 0.5 for i in range(n)]
    total = [
        round(t + (c if c is not None else f or 0.0), 2)
        for t, c, f in zip(bills["total_amount"], card, transfer, strict=True)
    ]
    cols = [double(k, v) for k, v in bills.items() if k != "total_amount"]
    cols += [
        Column(FieldIR(name="card_fee", type="double", optional=True), card),
        Column(FieldIR(name="transfer_fee", type="double", optional=True), transfer),
    ]
    tot = double("total_amount", total)
    found = [sorted(c.name for c in parts) for parts in relations._long_sums(tot, [*cols, tot], S)]
    assert found == [sorted([*LINES, "card_fee"]), sorted([*LINES, "transfer_fee"])]
