"""Numeric ranges that a stray outlier cannot drag: quantiles, widened by a tolerance of their span.

Bare min/max would take one bad value in the sample as the law; the [0.5%, 99.5%] quantiles ignore
it, and the tolerance keeps the rule from refusing the next good value just past the sample's edge.
A sample that never goes below zero keeps its lower bound at zero: a sign is a semantic edge. Zero
itself is refused (`x > 0`) when a sample large enough to show it, had it been a value of even the
false-alarm budget's frequency, never does.

A positive quantity whose values spread by factors (amounts, durations: right-skewed, more symmetric
in logarithms) gets its tolerance on the log scale: the next good value past the sample's edge is a
multiple of it, not a fixed step away, and a linear tolerance would refuse the long tail's next value.
Its floor is zero (refused as above when the sample shows no zero), not the log scale's bottom: such
a quantity thins out towards zero rather than stopping at a smallest value (a donation of 0.50 is
as good as one of 0.56, the sample's smallest), so its only edge there is its sign; the top is where
a unit mistake (cents read as euros, grams as kilograms) lands, a factor past the sample.

An edge the sample piles up at is a cut, and the bound is the edge itself, with no tolerance past it
(`cut_edges`). A tail thins out towards its extreme, so the sample's smallest or largest value is
among its rarest; where the extreme value is seen several times, and about as often as a typical
value of the field, the values do not thin out there: they stop (a legal minimum age, a scale's
first and last point, a sensor or a form that clips, a policy's cap). The next good value is not
past a cut, and a value past it is what the cut is there to refuse.

An edge just short of a round number of the field's scale is that number (`round_edges`). A legal or
physical limit (a dive to 40 m, a vessel of 400 m, a potential down to -1,200 mV) is a round number far
more often than a sample's extreme is: where the values run up to a limit, the sample's extreme lies
within about one spacing of its top values below it. Without a limit there, the extreme would land
that close to a multiple of the scale's step only by chance, about (distance + resolution) / step, the
resolution being the grid the values are written on (0.1 for one decimal, 100 for amounts in hundreds);
the round number is the bound when that chance is at most `relation_chance`, the chance the relations
allow a coincidence they offer a rule on. Otherwise the quantiles' tolerance stands. This holds on the
log scale too: a round floor there replaces the sign's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from dana_workflows.objectives.profilers.column import (
    INTEGER_TYPES,
    Column,
    guarded,
    literal,
    nice_ceil,
    nice_floor,
    support_factor,
)
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def asymmetry(ordered: Sequence[float], settings: InferenceSettings) -> float:
    """Where the median sits between the outer quantiles: 0 symmetric, towards 1 a long right tail."""
    q_lo, q_hi = quantile(ordered, settings.q_low), quantile(ordered, settings.q_high)
    if q_hi == q_lo:
        return 0.0
    median = quantile(ordered, 0.5)
    return ((q_hi - median) - (median - q_lo)) / (q_hi - q_lo)


def spreads_by_factors(ordered: Sequence[float], settings: InferenceSettings) -> bool:
    """Positive values that are more symmetric in logarithms than as they are (a right-skewed spread),
    over at least a factor of `factor_spread` between the outer quantiles. Values within a narrower
    ratio (a temperature in Fahrenheit, a barometric pressure, a rail gauge) sit around a level far
    from zero: they do not thin out towards zero, and over such a ratio the logarithm is nearly linear,
    so which scale is more symmetric says nothing. Their floor is the linear tolerance's, not the sign,
    and a unit mistake that divides (Fahrenheit read as Celsius, millimetres as metres) falls under it."""
    if not ordered or ordered[0] <= 0:
        return False
    if quantile(ordered, settings.q_high) < settings.factor_spread * quantile(ordered, settings.q_low):
        return False
    logs = [math.log(v) for v in ordered]
    return abs(asymmetry(logs, settings)) < abs(asymmetry(ordered, settings))


def amounts_and_absences(ordered: Sequence[float], settings: InferenceSettings) -> list[float]:
    """The positive values of a quantity that is either absent (zero) or an amount spreading by factors
    (sales at a reduced VAT rate: none for most traders, any size for the rest); else none. Zero is
    the absence, as in the relations' zero conclusions; the amounts' own spread sets the top."""
    if not ordered or ordered[0] != 0:
        return []
    positive = [v for v in ordered if v > 0]
    if len(positive) < settings.min_values or not spreads_by_factors(positive, settings):
        return []
    return positive


def log_scale(ordered: Sequence[float], settings: InferenceSettings) -> list[float]:
    """The values whose spread is read on the log scale: all of them, or an absent-or-amount's amounts."""
    if spreads_by_factors(ordered, settings):
        return list(ordered)
    return amounts_and_absences(ordered, settings)


def bounds(values: Sequence[float], settings: InferenceSettings, integer: bool) -> tuple[float, float]:
    ordered = sorted(values)
    positive = amounts_and_absences(ordered, settings)
    if positive:
        logs = [math.log(v) for v in positive]
        l_hi = quantile(logs, settings.q_high)
        widen = settings.range_tolerance * (l_hi - quantile(logs, settings.q_low))
        return 0.0, nice_ceil(math.exp(l_hi + widen), integer)
    if spreads_by_factors(ordered, settings):
        logs = [math.log(v) for v in ordered]
        l_lo, l_hi = quantile(logs, settings.q_low), quantile(logs, settings.q_high)
        widen = settings.range_tolerance * (l_hi - l_lo)
        return 0.0, nice_ceil(math.exp(l_hi + widen), integer)  # the floor is the sign (see above)
    q_lo, q_hi = quantile(ordered, settings.q_low), quantile(ordered, settings.q_high)
    span = q_hi - q_lo
    if span == 0:
        span = max(abs(q_lo) * 0.1, 1.0)
    lo, hi = q_lo - settings.range_tolerance * span, q_hi + settings.range_tolerance * span
    if ordered[0] >= 0 > lo:
        lo = 0.0
    return nice_floor(lo, integer), nice_ceil(hi, integer)


def cut_edges(ordered: Sequence[float], settings: InferenceSettings) -> tuple[float | None, float | None]:
    """The sample's smallest and largest values where each is a cut (see above), else None: the
    extreme value seen at least `edge_min_repeats` times and at least `edge_repeat_share` of the mean
    number of times a distinct value is seen."""
    if not ordered:
        return None, None
    typical = len(ordered) / len(set(ordered))

    def cut(edge: float) -> float | None:
        seen = ordered.count(edge)
        return (
            edge
            if seen >= settings.edge_min_repeats and seen >= settings.edge_repeat_share * typical
            else None
        )

    return cut(ordered[0]), cut(ordered[-1])


def resolution(values: Sequence[float], most: int = 6) -> float | None:
    """The step the values are written to (1 for whole numbers, 0.1 for one decimal, 10 for weights
    in tens, 0.5 for half points: the greatest common step of the values), up to `most` decimals;
    None when they carry more (a measurement of full precision has no written step). A grid coarser
    than the decimal places is what the chance of landing on a round number counts in: values in
    hundreds land on a multiple of 1,000 one time in ten, not one in a thousand."""
    for places in range(most + 1):
        scale: int = 10**places  # an int: a whole number past 2**53 is scaled exactly
        # a double carries about 16 digits: 30,013.500001 scaled by a million is off by 4e-6
        if all(abs(v * scale - round(v * scale)) < 1e-9 + abs(v * scale) * 1e-12 for v in values):
            grid: int = math.gcd(*(round(v * scale) for v in values)) or 1
            return grid / scale
    return None


# the spacing near an edge is the mean gap over this many values next to it: one gap is too noisy
_EDGE_SPACINGS = 5


def round_edges(ordered: Sequence[float], settings: InferenceSettings) -> tuple[float | None, float | None]:
    """The round numbers the sample's smallest and largest values stop at (see above), else None.

    The step is the power of ten under the sample's span (a span of 338 m has step 100); the round
    number is the nearest multiple of it at or past the extreme, and it stands when the extreme lies
    within the mean spacing of the `_EDGE_SPACINGS` values next to it and the chance of lying that close by
    coincidence, (distance + resolution) / step, is at most `relation_chance`. The resolution is that
    of the distinct values next to the edge: the extreme is written as they are (ages in whole years
    at the top of a sample whose infants' ages carry months land on a multiple of ten one time in ten,
    not one in a thousand)."""
    top = _EDGE_SPACINGS
    span = ordered[-1] - ordered[0] if ordered else 0.0
    if resolution(ordered) is None or span <= 0 or len(ordered) < max(settings.min_values, top + 1):
        return None, None
    distinct = sorted(set(ordered))
    power = math.floor(math.log10(span))
    step = 10.0**power
    # whole numbers stay whole: a float limit past 2**53 may lie on the wrong side of the value
    whole = power >= 0 and all(isinstance(v, int) for v in ordered)

    def edge(extreme: float, inner: float, near: Sequence[float], towards: int) -> float | None:
        multiple = (math.ceil if towards > 0 else math.floor)(round(extreme / step, 9))
        limit: float = (
            (-(-int(extreme) // 10**power) if towards > 0 else int(extreme) // 10**power) * 10**power
            if whole
            else round(multiple * step, max(0, -power))  # 0.3, not 0.30000000000000004
        )
        distance = abs(limit - extreme)
        spacing = abs(extreme - inner) / top
        # the rounding to nine places (0.7 / 0.1 is 6.999999999999999) must not put the limit inside
        # the sample: the extreme is a good value, and a limit short of it would refuse it
        if (limit - extreme) * towards < 0:
            return None
        unit = resolution(near)
        if unit is None or distance > spacing or (distance + unit) / step > settings.relation_chance:
            return None
        return limit

    return (
        edge(ordered[0], ordered[top], distinct[: top + 1], -1),
        edge(ordered[-1], ordered[-1 - top], distinct[-1 - top :], 1),
    )


def zero_refused(values: Sequence[float], lo: float, settings: InferenceSettings) -> bool:
    """A floor of zero that zero itself does not reach: n values without a zero, where a zero of the
    false-alarm budget's frequency would have shown up with 95% probability."""
    n = len(values)
    enough = (1.0 - settings.max_false_alarm_rate) ** n <= 0.05
    return lo == 0.0 and enough and all(v > 0 for v in values)


def range_rule(col: Column, lo: float, hi: float, lo_open: bool = False) -> str:
    t = col.field.type
    low = f"{col.name} > {literal(lo, t, 'low')}" if lo_open else f"{col.name} >= {literal(lo, t, 'low')}"
    return guarded(col, f"{low} && {col.name} <= {literal(hi, t, 'high')}")


def interval(col: Column, lo: float, hi: float, lo_open: bool = False) -> str:
    """The range as the message shows it, with the rule's own bounds."""
    t = col.field.type
    return f"{'(' if lo_open else '['}{literal(lo, t, 'low')}, {literal(hi, t, 'high')}]"


TIME_NAMES = re.compile(
    r"(^|_)(at|ts|time|timestamp|epoch|date|datetime)$|^(created|updated|submitted)", re.I
)


def is_clock(col: Column) -> bool:
    """Times and sequence numbers move on: the sample's range of them says nothing about tomorrow's."""
    present = col.present
    return bool(TIME_NAMES.search(col.name)) or (
        col.field.type in INTEGER_TYPES and len(set(present)) == len(present) and len(present) > 1
    )


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    present = col.present
    if not col.numeric or len(present) < settings.min_values or is_clock(col):
        return []
    integer = col.field.type in INTEGER_TYPES
    ordered = sorted(present)
    lo, hi = bounds(ordered, settings, integer)
    lo_cut, hi_cut = cut_edges(ordered, settings)
    # a cut is the sample's own value, kept as it is: an integer past 2**53 is not a float
    lo = lo if lo_cut is None else lo_cut
    hi = hi if hi_cut is None else hi_cut
    lo_round, hi_round = round_edges(ordered, settings)
    # a round limit only narrows: it never widens a cut (the sample's own edge), the sign's floor, nor
    # the tolerance's bound where the quantiles left a stray extreme out
    lo_round = lo_round if lo_round is not None and lo < lo_round else None
    hi_round = hi_round if hi_round is not None and hi_round < hi else None
    lo = lo if lo_round is None else lo_round
    hi = hi if hi_round is None else hi_round
    cuts = {side: v for side, v in (("low", lo_cut), ("high", hi_cut)) if v is not None}
    lo_open = zero_refused(present, lo, settings)
    pct = f"{settings.q_low:.1%}..{settings.q_high:.1%}"
    scale = " on the log scale" if log_scale(ordered, settings) else ""
    return [
        Candidate(
            id=f"{col.name}_range",
            rule=range_rule(col, lo, hi, lo_open),
            profile="range",
            fields=(col.name,),
            message=f"{col.name} must lie in {interval(col, lo, hi, lo_open)}",
            basis=f"quantiles {pct} of {len(present)} values, "
            f"widened by {settings.range_tolerance:.0%} of the span{scale}"
            + (", zero never seen" if lo_open else "")
            + "".join(
                f", {side} edge {literal(v, col.field.type)} is a cut (the values pile up there)"
                for side, v in cuts.items()
            )
            + "".join(
                f", {side} edge at the round number {literal(v, col.field.type)} (the values run up to it)"
                for side, v in (("low", lo_round), ("high", hi_round))
                if v is not None
            ),
            strength=support_factor(len(present)),
            support=len(present),
            kind="range",
            refine={"lo": lo, "hi": hi, "lo_open": lo_open, **({"cuts": list(cuts)} if cuts else {})},
        )
    ]
