"""Running numbers: identifiers the writing system counts out (`ORD-0001234`, `H00000017`).

A running number is issued, not typed: the system that writes the event counts it up, and its shape
is the counter's padding. What can go wrong with it (a duplicate, a gap, a reuse) lies across events,
which a per-event rule cannot see; so it gets an observation, not a format rule. An identifier drawn
at random in a format (a card number, a policy number `HP` + 8 digits, a tracking code) is another
matter: a person or a partner types or relays it, and its format is a check worth having.

The two are told apart by the numbers, not the names: n distinct values whose numeric parts all fall
in a window of width W out of the 10^d that d digits allow would be a coincidence of chance about
n * (W / 10^d)^(n-1) if the digits were drawn at random; a counter makes it near certain.
"""

from __future__ import annotations

import math
import os
import re

from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings

_NUMBERED = re.compile(r"^([^0-9]*)([0-9]+)$")  # a fixed prefix, then the counter's digits


def chance_of_window(numbers: list[int], digits: int) -> float:
    """How likely n numbers drawn at random from [0, 10^digits) all fall in a window as narrow as theirs."""
    n = len(numbers)
    width = max(numbers) - min(numbers) + 1
    share = min(width / 10.0**digits, 1.0)
    if share >= 1.0:
        return 1.0
    return min(1.0, math.exp(math.log(n) + (n - 1) * math.log(share)))


def running_number(col: Column, settings: InferenceSettings) -> bool:
    """Distinct string values of one prefix whose digits sit in a window only counting explains."""
    present = col.present
    if col.field.type != "string" or len(present) < settings.min_values:
        return False
    if len(set(present)) != len(present):
        return False
    parts = [_NUMBERED.match(v) for v in present if isinstance(v, str)]
    if len(parts) != len(present) or any(m is None for m in parts):
        return False
    matched = [m for m in parts if m is not None]
    if len({m.group(1) for m in matched}) != 1:
        return False
    runs = [m.group(2) for m in matched]
    digits = max(len(r) for r in runs)
    fixed = 0
    if all(len(r) == digits for r in runs):
        # leading digits every value shares are part of the format (a country code `+447...`), not counted
        fixed = len(os.path.commonprefix(runs))  # noqa: RUF071 (digits, not paths)
    numbers = [int(r[fixed:]) for r in runs]  # all distinct, so at least one digit is left
    return chance_of_window(numbers, digits - fixed) <= settings.relation_chance
