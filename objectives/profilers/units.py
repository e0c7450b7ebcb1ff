"""Name priors for cross-field comparisons: which fields measure the same kind of thing.

An order `a <= b` only means something between two quantities of one kind: a fee and an amount are
both money, a received and an expected quantity both counts, but a heart rate and a blood pressure
are not comparable however the numbers fall. A field's kind is read from the words of its name.
"""

from __future__ import annotations

import re

# The words that say what a number measures; a word in several families is left out (`rate` is a
# heart rate, an interest rate or a nightly price; `total`, `net` and `gross` say which, not what).
UNIT_FAMILIES: dict[str, frozenset[str]] = {
    "money": frozenset(
        [
            "amount",
            "price",
            "cost",
            "fee",
            "fees",
            "tax",
            "vat",
            "pay",
            "salary",
            "wage",
            "income",
            "rent",
            "deposit",
            "fare",
            "premium",
            "notional",
            "balance",
            "charge",
            "charges",
            "shipping",
            "discount",
            "subtotal",
            "refund",
            "payment",
            "loan",
        ]
    ),
    "count": frozenset(
        ["qty", "quantity", "count", "units", "items", "pieces", "stops", "seats", "passengers"]
    ),
    "mass": frozenset(["kg", "g", "mg", "lb", "lbs", "weight"]),
    "length": frozenset(["mm", "cm", "m", "km", "mi", "length", "width", "height", "distance"]),
    "duration": frozenset(
        [
            "s",
            "sec",
            "secs",
            "seconds",
            "ms",
            "min",
            "mins",
            "minutes",
            "hours",
            "hrs",
            "days",
            "nights",
            "weeks",
            "months",
        ]
    ),
    "pressure": frozenset(["bp", "mmhg"]),
    "share": frozenset(["pct", "percent", "percentage", "ratio"]),
}


# A quotient measures one thing per another (a concentration, a speed, a dose per area): two of them
# share a unit, not a kind; nitrite and chlorine in mg/l, or bacteria and cells per ml, bound nothing
# of each other. Read from a word that says so, or from a name that ends in two units (`mg_l`).
QUOTIENT_WORDS = frozenset(["per", "speed", "velocity", "rate", "density", "concentration"])
# The families name quantities as well as units: `net_weight_kg` is a weight in kg, not one per kg.
QUANTITY_WORDS = frozenset(["weight", "length", "width", "height", "distance"])
UNIT_WORDS = (UNIT_FAMILIES["mass"] | UNIT_FAMILIES["length"] | UNIT_FAMILIES["duration"]) - QUANTITY_WORDS
UNIT_WORDS |= frozenset(["ug", "l", "ml", "dl", "ha", "m2", "m3", "h", "kwh", "mol", "mmol", "cfu"])


def words(name: str) -> list[str]:
    """snake_case and camelCase split into lower-case words: `grossPay_eur` -> gross, pay, eur."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def families(name: str) -> set[str]:
    ws = set(words(name))
    return {family for family, vocabulary in UNIT_FAMILIES.items() if ws & vocabulary}


def quotient(name: str) -> bool:
    """The name measures one quantity per another: `nitrite_mg_l`, `wind_speed_ms`, `cells_per_ml`."""
    ws = words(name)
    return bool(set(ws) & QUOTIENT_WORDS) or (len(ws) > 2 and ws[-1] in UNIT_WORDS and ws[-2] in UNIT_WORDS)


# A name's last word that is a unit says in what the number is written; synonyms are one unit. Two
# names ending in different units (`mpe_mg` and `nominal_g`, `distance_m` and `diameter_cm`, `cycle_min`
# and `fuel_l`) hold numbers no order compares as they stand: a different scale of one kind, or two kinds.
_SAME_UNIT = {
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "mins": "min",
    "minutes": "min",
    "hrs": "h",
    "hours": "h",
    "lbs": "lb",
    "percent": "pct",
    "percentage": "pct",
}
_SUFFIX_UNITS = (UNIT_WORDS | _SAME_UNIT.keys() | {"pct"}) - {"days", "nights", "weeks", "months"}


def unit(name: str) -> str:
    """The unit a name ends in (`net_weight_kg` -> kg, `hold_minutes` -> min), or "" when none.

    Read from the name alone, so a last word that is also another word is read as the unit: `dose_min`
    (a minimum beside `dose_max`) as minutes, `revenue_m` (millions) as metres. The cost is one order
    not offered (`dose_min` against `dose_mg`, other units) and `dose_min` in the duration family; a
    `<stem>_max` sibling would tell, but the siblings are the caller's (relations.py), not this name's."""
    ws = words(name)
    if len(ws) < 2 or ws[-1] not in _SUFFIX_UNITS or quotient(name):
        return ""
    return _SAME_UNIT.get(ws[-1], ws[-1])


def other_units(a: str, b: str) -> bool:
    """Both names end in a unit, and not the same one: their numbers are not compared as written."""
    ua, ub = unit(a), unit(b)
    return bool(ua and ub and ua != ub)


def money_against_unit(a: str, b: str) -> bool:
    """One name says money (`energy_charge_gbp`, `vat_amount`) and the other ends in a unit of measure
    (`volume_m3`, `consumption_m3`, `weight_lb`): a sum of money is never bounded by a measured
    quantity as written, whatever their numbers do in a sample (a tariff relates them, not an order)."""
    return any("money" in families(x) and not unit(x) and unit(y) for x, y in ((a, b), (b, a)))


def same_kind(a: str, b: str) -> bool:
    """Both names say the same kind of quantity, or end in the same word (`systolic_bp`, `diastolic_bp`);
    never for a quotient (a concentration or a speed), whose order must show itself beyond chance."""
    if quotient(a) or quotient(b):
        return False
    if families(a) & families(b):
        return True
    if families(a) or families(b):
        # one name says what it measures and the other does not say the same: a shared last word is
        # then a unit or a currency (`days_past_due` and `escrow_due`, `price_usd` and `gross_usd`,
        # `min_nm` and `mean_nm`), not the kind, so the order must show itself beyond chance
        return False
    wa, wb = words(a), words(b)
    return len(wa) > 1 and len(wb) > 1 and wa[-1] == wb[-1]
