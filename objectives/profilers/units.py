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


def words(name: str) -> list[str]:
    """snake_case and camelCase split into lower-case words: `grossPay_eur` -> gross, pay, eur."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def families(name: str) -> set[str]:
    ws = set(words(name))
    return {family for family, vocabulary in UNIT_FAMILIES.items() if ws & vocabulary}


def same_kind(a: str, b: str) -> bool:
    """Both names say the same kind of quantity, or end in the same word (`systolic_bp`, `diastolic_bp`)."""
    if families(a) & families(b):
        return True
    wa, wb = words(a), words(b)
    return len(wa) > 1 and len(wb) > 1 and wa[-1] == wb[-1]
