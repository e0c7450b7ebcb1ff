"""Running numbers: identifiers the writing system counts out (`ORD-0001234`, `H00000017`).

A running number is issued, not typed: the system that writes the event counts it up, and its shape
is the counter's padding. What can go wrong with it (a duplicate, a gap, a reuse) lies across events,
which a per-event rule cannot see; so it gets an observation. Its format is offered too, written as
the counter writes it: the one prefix every value shares, literally, then the padded digits
(`^RH[0-9]{7}$`, not the shape `^[A-Z]{2}[0-9]{7}$`): a reviewer writes an id's format whether it is
counted or drawn (batches 5-10 of the suite: 79 of 87 running ids have one), and a malformed or
foreign id in the stream (`LA-12`, another system's `XY0000017`) is a per-event error it catches.
An identifier drawn at random in a format (a card number, a policy number `HP` + 8 digits, a
tracking code) gets the shape profiler's format instead: a person or a partner types or relays it.

The two are told apart by the numbers, not the names: n distinct values whose numeric parts all fall
in a window of width W out of the 10^d that d digits allow would be a coincidence of chance about
n * (W / 10^d)^(n-1) if the digits were drawn at random; a counter makes it near certain.
"""

from __future__ import annotations

import math
import os
import re

from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.profilers.patterns import pattern_candidate
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

_NUMBERED = re.compile(r"^([^0-9]*)([0-9]+)$")  # a fixed prefix, then the counter's digits
_PLAIN_PREFIX = re.compile(r"^[A-Za-z0-9 _@:/,-]*$")  # written as itself in a regex, no backslash needed


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


def counter_format(col: Column, settings: InferenceSettings) -> Candidate | None:
    """A running number's format: its prefix as written, then its digits (exact width when all are padded
    alike; one width with no leading zero is a floor, the counter grows past it). None for a field that
    is not a running number, or whose prefix a regex would have to escape."""
    if not running_number(col, settings):
        return None
    matched = [_NUMBERED.match(v) for v in col.present if isinstance(v, str)]
    parts = [(m.group(1), m.group(2)) for m in matched if m is not None]
    prefix = parts[0][0]
    if not _PLAIN_PREFIX.match(prefix):
        return None
    widths = {len(d) for _, d in parts}
    # exact width only with proof of padding (a value whose digits start with 0): INV9700..INV9999 in
    # one decade does not say the counter stops at INV9999, its next id is INV10000
    padded = any(d.startswith("0") for _, d in parts)
    width = widths.pop() if len(widths) == 1 else 0
    digits = f"[0-9]{{{width}}}" if width and padded else f"[0-9]{{{width},}}" if width else "[0-9]+"
    regex = f"^{prefix}{digits}$"
    n = len(col.present)
    basis = f"all {n} values are one counter's: prefix {prefix!r}, then its digits"
    return pattern_candidate(col, regex, basis, 1.0, "counter")
