"""The fourth round of the method: presence equivalences, sums with a constant offset, sums of two
rates, and the floor of a quantity that spreads by factors.

Each sample is built so the right answer follows from how it was made, not from the profiler."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.objectives.profilers import mappings, presence, ranges, relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.refine import passes
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
# these check the value implications too, which are off by default since round 9 (test_round9.py)
S = InferenceSettings(value_implications=True)


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def holds(rule: str, event: dict[str, Any]) -> bool:
    return passes(compile_expr(rule), event)


# --- presence equivalences -------------------------------------------------------------------------


def _checks(n: int = 300, stray: int = 0) -> list[Column]:
    """A restaurant check: room service goes to a room (a room number, no table), every other outlet
    to a table (a table number, no room). `stray` room-service checks carry a table number too."""
    rng = random.Random(41)
    outlet, table, room = [], [], []
    for i in range(n):
        o = rng.choice(["main_dining", "main_dining", "bar", "terrace", "room_service"])
        outlet.append(o)
        to_room = o == "room_service"
        table.append(rng.randint(1, 60) if not to_room or i < stray else None)
        room.append(f"{rng.randint(1, 9)}{rng.randint(1, 40):02d}" if to_room else None)
    return [
        col("outlet", "string", outlet),
        col("table_no", "long", table, optional=True),
        col("room_no", "string", room, optional=True),
    ]


def test_a_field_set_exactly_in_one_case_is_one_equivalence_named_from_that_case() -> None:
    eqs = {c.fields[1]: c.rule for c in presence.equivalences(_checks(), S)}
    # written from the side of fewer values: room service is one outlet of four
    assert eqs["table_no"] == '(outlet == "room_service") == (table_no == null)'
    assert eqs["room_no"] == '(outlet == "room_service") == (room_no != null)'
    # both directions: a table on a room-service check is as wrong as none at the bar
    rule = eqs["table_no"]
    assert not holds(rule, {"outlet": "room_service", "table_no": 12, "room_no": "101"})
    assert not holds(rule, {"outlet": "bar", "table_no": None, "room_no": None})
    assert holds(rule, {"outlet": "bar", "table_no": 3, "room_no": None})
    # an outlet the sample never showed falls on the usual side: it serves a table
    assert holds(rule, {"outlet": "pool", "table_no": 3, "room_no": None})
    fields = {c.name: c.field for c in _checks(30)}
    assert not check_rule(rule, fields) and not check_rule(eqs["room_no"], fields)  # no reason to refuse


def test_no_equivalence_when_the_field_is_sometimes_there_and_sometimes_not_in_one_case() -> None:
    eqs = {c.fields[1] for c in presence.equivalences(_checks(stray=30), S)}
    assert "table_no" not in eqs and "room_no" in eqs


def test_a_premise_seen_too_rarely_gives_no_equivalence() -> None:
    # 8 room-service checks of 40: under MIN_PREMISE (10) events on that side
    checks = _checks(200)
    first = [i for i, o in enumerate(checks[0].values) if o == "room_service"][:8]
    others = [i for i, o in enumerate(checks[0].values) if o != "room_service"][:32]
    keep = sorted(first + others)
    small = [col(c.name, c.field.type, [c.values[i] for i in keep], c.field.optional) for c in checks]
    assert presence.equivalences(small, S) == []


def test_a_flag_premise_and_fields_set_together() -> None:
    rng = random.Random(43)
    declared = [rng.random() < 0.4 for _ in range(300)]
    aid = [round(rng.uniform(1, 100), 2) if d else None for d in declared]
    returned = [rng.random() < 0.3 for _ in range(300)]
    r_type = [rng.choice(["REJECT", "RETURN"]) if r else None for r in returned]
    reason = [rng.choice(["AC01", "AM04", "MD01"]) if r else None for r in returned]
    cols = [
        col("gift_aid_declared", "boolean", declared),
        col("gift_aid_amount", "double", aid, optional=True),
        col("r_type", "string", r_type, optional=True),
        col("reason_code", "string", reason, optional=True),
    ]
    rules = {c.rule for c in presence.equivalences(cols, S)}
    # and nothing between fields whose presence follows different cases (a gift aid and a return)
    assert rules == {
        "gift_aid_declared == (gift_aid_amount != null)",
        "(r_type == null) == (reason_code == null)",
    }
    together = "(r_type == null) == (reason_code == null)"
    assert not holds(together, {"r_type": "RETURN", "reason_code": None})
    assert holds(together, {"r_type": None, "reason_code": None})


def test_implications_between_the_two_fields_of_an_equivalence_are_not_said_again() -> None:
    cols = _checks()
    other = Candidate("x", "outlet != 'bar' || table_no != null", "relation", ("outlet", "table_no"), "", "")
    other.kind = "implies"
    unrelated = Candidate("y", "a <= b", "relation", ("a", "b"), "", "", kind="order")
    kept = presence.profile(cols, [other, unrelated], S)
    assert other not in kept and unrelated in kept
    # the table's and the room's equivalences share their premise: one rule (round 8)
    [eq] = [c for c in kept if c.kind == "presence"]
    assert eq.fields == ("outlet", "table_no", "room_no")


# --- sums with a constant offset, sums of two rates -----------------------------------------------


def _tickets(n: int = 300, offset: int = -1, noise: bool = False) -> list[Column]:
    """The ITIL priority: impact + urgency - 1 (1 the highest)."""
    rng = random.Random(44)
    impact = [rng.choice([1, 2, 3]) for _ in range(n)]
    urgency = [rng.choice([1, 2, 3]) for _ in range(n)]
    priority = [
        i + u + offset + (rng.choice([0, 1]) if noise else 0) for i, u in zip(impact, urgency, strict=True)
    ]
    return [col("impact", "long", impact), col("urgency", "long", urgency), col("priority", "long", priority)]


def test_a_sum_with_a_constant_offset() -> None:
    found = [c for c in relations.sums(_tickets(), S) if c.kind == "sum"]
    assert [c.rule for c in found] == ["impact + urgency - 1 == priority"]
    assert found[0].refine["offset"] == -1
    # and the orders it implies (impact <= priority, since urgency - 1 >= 0) are not offered beside it
    rules = [c.rule for c in relations.profile(_tickets(), S)]
    assert "impact <= priority" not in rules and "urgency <= priority" not in rules


def test_the_order_a_positive_offset_implies_is_not_offered_beside_it() -> None:
    # t = a + b + 5 with b down to -3: a <= t holds (b + 5 >= 2), because of the constant
    rng = random.Random(49)
    a = [rng.randint(0, 100) for _ in range(300)]
    b = [rng.randint(-3, 10) for _ in range(300)]
    t = [x + y + 5 for x, y in zip(a, b, strict=True)]
    cols = [col("a", "long", a), col("b", "long", b), col("t", "long", t)]
    assert [c.rule for c in relations.sums(cols, S)] == ["a + b + 5 == t"]
    assert any(c.rule == "a <= t" for c in relations.orders(cols, S))  # true, and found alone
    assert "a <= t" not in [c.rule for c in relations.profile(cols, S)]  # but the sum says it


def test_an_offset_that_is_not_constant_is_no_sum() -> None:
    assert [c for c in relations.sums(_tickets(noise=True), S) if c.kind == "sum"] == []


def test_a_constant_that_needs_many_digits_is_no_offset() -> None:
    # 12.345 is a measurement, not a rule's constant: at most 3 significant digits (12.3) leave it
    # 0.045 off on every event, past the sums' tolerance of 0.011
    rng = random.Random(45)
    a = [round(rng.uniform(0, 100), 2) for _ in range(300)]
    b = [round(rng.uniform(0, 100), 2) for _ in range(300)]
    t = [round(x + y + 12.345, 4) for x, y in zip(a, b, strict=True)]
    cols = [col("a", "double", a), col("b", "double", b), col("t", "double", t)]
    assert relations.sums(cols, S) == []
    t2 = [round(x + y + 2.5, 2) for x, y in zip(a, b, strict=True)]
    (found,) = relations.sums([*cols[:2], col("t", "double", t2)], S)
    assert "a + b + 2.5" in found.rule
    assert holds(found.rule, {"a": 1.0, "b": 2.0, "t": 5.5}) and not holds(
        found.rule, {"a": 1.0, "b": 2.0, "t": 3.0}
    )


def _bills(n: int = 300) -> list[Column]:
    """German restaurant VAT from 2026: 7% on food, 19% on drinks."""
    rng = random.Random(46)
    food = [round(rng.uniform(6, 300), 2) for _ in range(n)]
    drinks = [round(rng.uniform(0, 150), 2) for _ in range(n)]
    vat = [round(0.07 * f + 0.19 * d, 2) for f, d in zip(food, drinks, strict=True)]
    return [col("food_net", "double", food), col("beverage_net", "double", drinks), col("vat", "double", vat)]


def test_a_field_made_of_two_rates() -> None:
    (found,) = relations.rated_sums(_bills(), S, set())
    assert found.kind == "rated_sum" and found.fields == ("food_net", "beverage_net", "vat")
    assert "0.07 * food_net + 0.19 * beverage_net" in found.rule
    assert holds(found.rule, {"food_net": 100.0, "beverage_net": 10.0, "vat": 8.9})
    assert not holds(found.rule, {"food_net": 100.0, "beverage_net": 10.0, "vat": 19.9})  # 19% on all
    assert relations.rated_sums(_bills(), S, {"vat"}) == []  # a result already made by a relation


def test_a_plain_sum_is_not_a_sum_of_rates() -> None:
    rng = random.Random(47)
    a = [round(rng.uniform(0, 100), 2) for _ in range(300)]
    b = [round(rng.uniform(0, 100), 2) for _ in range(300)]
    t = [round(x + y, 2) for x, y in zip(a, b, strict=True)]
    cols = [col("a", "double", a), col("b", "double", b), col("t", "double", t)]
    assert relations.rated_sums(cols, S, set()) == []
    # 0.5 * a + 0.2 * b + a measurement's noise of a few cents: no constants fit every event
    noisy = [round(0.5 * x + 0.2 * y + rng.uniform(-0.05, 0.05), 2) for x, y in zip(a, b, strict=True)]
    assert relations.rated_sums([*cols[:2], col("t", "double", noisy)], S, set()) == []


# --- the floor of a quantity that spreads by factors ----------------------------------------------


def test_an_amount_spreading_by_factors_has_zero_as_its_floor() -> None:
    rng = random.Random(48)
    amounts = [round(math.exp(rng.gauss(3.0, 1.2)), 2) for _ in range(300)]
    (cand,) = ranges.profile(col("amount", "double", amounts), S)
    assert "log scale" in cand.basis
    small = min(amounts) / 10  # ten times under the sample's smallest donation: still a donation
    assert holds(cand.rule, {"amount": small})
    assert not holds(cand.rule, {"amount": 0.0}) and not holds(cand.rule, {"amount": -small})
    assert not holds(cand.rule, {"amount": max(amounts) * 100})  # a unit mistake lands past the top


# --- a field set by a category (a table, as a conditional) ----------------------------------------


def _reservations(n: int = 300, stray: bool = False) -> list[Column]:
    """The London property charges in sterling, the others in euro."""
    rng = random.Random(50)
    codes = [rng.choice(["BER01", "BER02", "HAM01", "LON01", "MUC01"]) for _ in range(n)]
    currency = ["GBP" if c == "LON01" else "EUR" for c in codes]
    if stray:
        currency[codes.index("BER01")] = "GBP"
    channel = [rng.choice(["direct", "ota", "phone"]) for _ in range(n)]
    return [
        col("property_code", "string", codes),
        col("currency", "string", currency),
        col("channel", "string", channel),
    ]


def test_a_field_set_by_a_category_is_its_table_with_the_usual_value_last() -> None:
    # currency has two values, a flag by another name: not a mapping target (relations says it)
    assert mappings.mappings(_reservations(), S) == []
    rng = random.Random(51)
    tickets = _tickets()
    priority = tickets[2].values
    sla = [{1: 4, 2: 8, 3: 24, 4: 72, 5: 120}[p] for p in priority]
    noise = [rng.choice([4, 8, 24]) for _ in priority]  # three values, unrelated to priority
    cols = [tickets[2], col("sla_target_h", "long", sla), col("noise", "long", noise)]
    (found,) = mappings.mappings(cols, S)
    # priority and the SLA determine each other: the field listed first is the premise; each SLA
    # comes from one priority, so the default is the highest priority's
    assert (
        found.rule == "sla_target_h == (priority == 1 ? 4 : priority == 2 ? 8 : priority == 3 ? 24 : "
        "priority == 4 ? 72 : 120)"
    )
    assert holds(found.rule, {"priority": 2, "sla_target_h": 8, "noise": 4})
    assert not holds(found.rule, {"priority": 2, "sla_target_h": 24, "noise": 4})


def test_the_default_is_the_value_most_categories_map_to() -> None:
    rng = random.Random(52)
    country = [rng.choice(["AT", "DE", "FR", "NL", "PL"]) for _ in range(300)]
    unit = [
        "kWh" if c == "NL" else "EUR" if c in ("DE", "AT") else "PLN" if c == "PL" else "EUR" for c in country
    ]
    (found,) = mappings.mappings([col("country", "string", country), col("unit", "string", unit)], S)
    assert found.rule == 'unit == (country == "NL" ? "kWh" : country == "PL" ? "PLN" : "EUR")'
    assert holds(found.rule, {"country": "ES", "unit": "EUR"})  # a country never seen: the usual value


def test_one_event_off_the_table_is_no_mapping_and_the_table_replaces_the_list() -> None:
    rng = random.Random(53)
    test = [rng.choice(["ALT", "AST", "CREAT", "GLUC", "HGB"]) for _ in range(300)]
    unit = [{"ALT": "U/L", "AST": "U/L", "CREAT": "umol/L", "GLUC": "mmol/L", "HGB": "g/L"}[t] for t in test]
    cols = [col("test", "string", test), col("unit", "string", unit)]
    (found,) = mappings.mappings(cols, S)
    off = list(unit)
    off[test.index("GLUC")] = "mg/dL"
    assert mappings.mappings([cols[0], col("unit", "string", off)], S) == []
    domain = Candidate("unit_domain", "unit in ['U/L']", "domain", ("unit",), "", "", kind="domain")
    other = Candidate("test_domain", "test in ['ALT']", "domain", ("test",), "", "", kind="domain")
    implied = Candidate(
        "i", "test != 'HGB' || unit == 'g/L'", "relation", ("test", "unit"), "", "", kind="implies"
    )
    kept = mappings.profile(cols, [domain, other, implied], S)
    assert [c.id for c in kept] == ["test_domain", found.id]
