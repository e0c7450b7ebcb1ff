"""Round 8 (docs/objectives.md): a running number's format is its counter's (profilers/counters.py);
no order between numbers written in different units (profilers/units.py); fields that follow one
premise together are one rule (profilers/presence.py).

Expected rules come from what the counter writes: one prefix, literally, then its digits; a malformed or
foreign id breaks the rule, every id the counter would go on to issue keeps it."""

from __future__ import annotations

import pytest

from dana_workflows.objectives.profilers import counters, relations, units
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR
from tests.unit.objectives.test_round7 import holds_event

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def col(name: str, values: list[str | None], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type="string", optional=optional), values)


def _format(values: list[str | None], optional: bool = False) -> str:
    cand = counters.counter_format(col("log_id", values, optional), S)
    assert cand is not None
    assert cand.kind == "pattern" and cand.fields == ("log_id",)
    return cand.rule


def test_a_counters_format_is_its_prefix_then_its_padded_digits() -> None:
    rule = _format([f"RH{i:07d}" for i in range(300)])
    assert rule == 'log_id.matches("^RH[0-9]{7}$")'
    assert holds_event(rule, {"log_id": "RH0009999"})  # a later number of the same counter
    assert not holds_event(rule, {"log_id": "XY0000017"})  # another system's id: the shape alone passes it
    assert not holds_event(rule, {"log_id": "RH000001"})  # one digit short
    assert not holds_event(rule, {"log_id": "RH-0000001"})


def test_a_prefix_with_a_mark_and_unpadded_digits() -> None:
    rule = _format([f"LS-{i:07d}" for i in range(0, 900, 3)])
    assert rule == 'log_id.matches("^LS-[0-9]{7}$")'
    unpadded = _format([f"N{i}" for i in range(95, 140)])  # 2 and 3 digits: the width is not fixed
    assert unpadded == 'log_id.matches("^N[0-9]+$")'
    assert holds_event(unpadded, {"log_id": "N1400"}) and not holds_event(unpadded, {"log_id": "M140"})


def test_an_optional_counter_keeps_its_null() -> None:
    values: list[str | None] = [f"C{i:05d}" if i % 4 else None for i in range(400)]
    rule = _format(values, optional=True)
    assert holds_event(rule, {"log_id": None}) and not holds_event(rule, {"log_id": "D00001"})


def test_no_counter_format_for_random_ids_or_a_prefix_a_regex_must_escape() -> None:
    import random

    rng = random.Random(9)
    drawn = [f"HP{rng.randint(0, 10**8 - 1):08d}" for _ in range(300)]
    assert counters.counter_format(col("policy", drawn), S) is None  # not counted: the shape profiler's
    assert counters.running_number(col("ref", [f"A.{i:05d}" for i in range(300)]), S)
    assert counters.counter_format(col("ref", [f"A.{i:05d}" for i in range(300)]), S) is None


# --- numbers written in different units are not ordered (objectives/profilers/units.py) -------------------


def test_a_names_unit_is_its_last_word_with_synonyms_as_one() -> None:
    assert units.unit("net_weight_kg") == "kg" and units.unit("hold_minutes") == "min"
    assert units.unit("wait_min") == "min" and units.unit("tax_pct") == units.unit("share_percent") == "pct"
    assert units.unit("kg") == "" and units.unit("nitrite_mg_l") == ""  # one word; a quotient
    assert units.unit("stay_days") == ""  # days, nights and months are left to same_kind
    assert units.other_units("mpe_mg", "nominal_g") and units.other_units("cycle_min", "fuel_l")
    assert not units.other_units("dump_min", "haul_minutes") and not units.other_units("a_kg", "weight")


def _pairs(lo_name: str, hi_name: str) -> list[Column]:
    import random

    rng = random.Random(12)
    lo = [round(rng.uniform(1.0, 50.0), 1) for _ in range(300)]
    hi = [round(x + rng.uniform(0.5, 60.0), 1) for x in lo]  # always above, ranges overlap widely
    return [dbl(lo_name, lo), dbl(hi_name, hi)]


def dbl(name: str, values: list[float]) -> Column:
    return Column(FieldIR(name=name, type="double"), values)


def test_no_order_between_milligrams_and_grams_but_between_two_in_grams() -> None:
    assert [c.rule for c in relations.orders(_pairs("low_g", "high_g"), S)] == ["low_g <= high_g"]
    assert relations.orders(_pairs("error_mg", "nominal_g"), S) == []
    assert relations.orders(_pairs("cycle_min", "fuel_l"), S) == []


def _verdict(a_name: str, b_name: str) -> list[Column]:
    import random

    rng = random.Random(29)
    limit = [rng.choice([2, 3, 5, 7, 10]) for _ in range(300)]
    found = [rng.choice([0, 0, 0, 1, 1, 2, 3, 4, 6, 9, 12]) for _ in range(300)]
    result = ["pass" if d <= a else "fail" for d, a in zip(found, limit, strict=True)]
    return [
        Column(FieldIR(name=b_name, type="long"), limit),
        Column(FieldIR(name=a_name, type="long"), found),
        Column(FieldIR(name="result", type="string"), result),
    ]


def test_an_order_premise_only_between_numbers_a_unit_does_not_set_apart() -> None:
    same = {c.rule for c in relations.implications(_verdict("wait_min", "limit_min"), S)}
    assert '(wait_min <= limit_min) == (result == "pass")' in same
    other = {c.rule for c in relations.implications(_verdict("wait_min", "limit_l"), S)}
    assert not any("wait_min <= limit_l" in r or "wait_min > limit_l" in r for r in other)


# --- fields that follow one premise together are one rule (objectives/profilers/presence.py) ---------------


def _inspections() -> list[Column]:
    import random

    rng = random.Random(8)
    result = [rng.choice(["pass", "pass", "fail", "cancelled"]) for _ in range(300)]
    done = [r != "cancelled" for r in result]
    flagged = [rng.random() < 0.5 for _ in range(300)]
    return [
        Column(FieldIR(name="result", type="string"), result),
        Column(
            FieldIR(name="inspected_date", type="string", optional=True),
            ["2026-01-05" if d else None for d in done],
        ),
        Column(
            FieldIR(name="inspector_id", type="string", optional=True),
            [f"I{i % 7}" if d else None for i, d in enumerate(done)],
        ),
        Column(
            FieldIR(name="minutes", type="long", optional=True),
            [30 + i % 50 if d else None for i, d in enumerate(done)],
        ),
        Column(FieldIR(name="flagged", type="boolean"), flagged),
        Column(
            FieldIR(name="flag_note", type="string", optional=True),
            ["see file" if f else None for f in flagged],
        ),
    ]


def test_fields_that_follow_one_premise_are_one_rule_and_a_lone_one_keeps_its_own() -> None:
    from dana_workflows.objectives.profilers import presence

    eqs = presence.profile(_inspections(), [], S)
    by_fields = {c.fields: c.rule for c in eqs if c.kind == "presence"}
    rule = by_fields[("result", "inspected_date", "inspector_id", "minutes")]
    assert by_fields[("flagged", "flag_note")] == "flagged == (flag_note != null)"
    assert len(by_fields) == 2
    done = {"result": "pass", "inspected_date": "2026-01-05", "inspector_id": "I1", "minutes": 40}
    assert holds_event(rule, done)
    assert holds_event(
        rule, {"result": "cancelled", "inspected_date": None, "inspector_id": None, "minutes": None}
    )
    # each part still decides: one field set on a cancelled inspection, or one missing on a done one
    assert not holds_event(
        rule, {**done, "result": "cancelled", "inspected_date": None, "inspector_id": None}
    )
    assert not holds_event(rule, {**done, "inspector_id": None})
    assert not holds_event(rule, {**done, "minutes": None})


# --- a learned format keeps the letters every value starts with (objectives/profilers/patterns.py) --------


def test_a_shape_keeps_a_constant_head_of_letters() -> None:
    import random

    from dana_workflows.objectives.profilers import patterns

    rng = random.Random(6)
    serials = [f"WZ{rng.randint(0, 10**8 - 1):08d}" for _ in range(300)]
    [cand] = patterns.profile(col("meter_serial", list(serials)), S)
    assert cand.rule == 'meter_serial.matches("^WZ[0-9]{8}$")'
    assert holds_event(cand.rule, {"meter_serial": "WZ00000001"})
    assert not holds_event(cand.rule, {"meter_serial": "XY00000001"})  # the shape, another maker's head
    # heads that differ, or share only their first letter, stay a class of letters
    mixed = [f"{rng.choice(['AB', 'AC', 'BD'])}{rng.randint(0, 9999):04d}" for _ in range(300)]
    assert patterns.learned_regex(mixed) == "^[A-Z]{2}[0-9]{4}$"
    assert patterns.learned_regex(["de:1", "de:2"]) == "^de:[0-9]$"
    assert patterns.learned_regex(["1A", "2A"]) == "^[0-9][A-Z]$"  # only a head of letters is kept
