"""Numeric ranges that a stray outlier cannot drag: quantiles, widened by a tolerance of their span.

Bare min/max would take one bad value in the sample as the law; the [0.5%, 99.5%] quantiles ignore
it, and the tolerance keeps the rule from refusing the next good value just past the sample's edge.
A sample that never goes below zero keeps its lower bound at zero: a sign is a semantic edge.
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


def bounds(values: Sequence[float], settings: InferenceSettings, integer: bool) -> tuple[float, float]:
    ordered = sorted(values)
    q_lo, q_hi = quantile(ordered, settings.q_low), quantile(ordered, settings.q_high)
    span = q_hi - q_lo
    if span == 0:
        span = max(abs(q_lo) * 0.1, 1.0)
    lo, hi = q_lo - settings.range_tolerance * span, q_hi + settings.range_tolerance * span
    if ordered[0] >= 0 > lo:
        lo = 0.0
    return nice_floor(lo, integer), nice_ceil(hi, integer)


def range_rule(col: Column, lo: float, hi: float) -> str:
    t = col.field.type
    return guarded(col, f"{col.name} >= {literal(lo, t)} && {col.name} <= {literal(hi, t)}")


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
    lo, hi = bounds(present, settings, integer)
    pct = f"{settings.q_low:.1%}..{settings.q_high:.1%}"
    return [
        Candidate(
            id=f"{col.name}_range",
            rule=range_rule(col, lo, hi),
            profile="range",
            fields=(col.name,),
            message=f"{col.name} must lie in [{literal(lo, col.field.type)}, {literal(hi, col.field.type)}]",
            basis=f"quantiles {pct} of {len(present)} values, "
            f"widened by {settings.range_tolerance:.0%} of the span",
            strength=support_factor(len(present)),
            support=len(present),
            kind="range",
            refine={"lo": lo, "hi": hi},
        )
    ]
