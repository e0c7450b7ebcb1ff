"""A sample column and the few helpers every profiler writes rules with."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from dana_workflows.workflow.ir import FieldIR

NUMERIC_TYPES = frozenset({"int", "long", "double", "float"})
INTEGER_TYPES = frozenset({"int", "long"})


@dataclass(slots=True)
class Column:
    field: FieldIR
    values: list[Any]  # one per sample event; None where the event has no value

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def present(self) -> list[Any]:
        return [v for v in self.values if v is not None]

    @property
    def numeric(self) -> bool:
        return self.field.type in NUMERIC_TYPES

    @property
    def has_nulls(self) -> bool:
        return any(v is None for v in self.values)


def literal(value: Any, type_: str, bound: str = "") -> str:
    """A CEL literal of the field's own type: a double always carries a point, CEL does not convert.

    A double is written to 10 significant digits, rounded to the nearest; a bound (`bound` "low" or
    "high") is rounded away from the values it keeps instead, so that it never refuses the value it
    was taken from (a low edge at 2/3 written 0.6666666667 would refuse 2/3 itself)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ in INTEGER_TYPES:
        return str(int(value))
    number = float(value)
    text = format(number, ".10g")
    if (bound == "low" and float(text) > number) or (bound == "high" and float(text) < number):
        text = _rounded_away(number, ROUND_FLOOR if bound == "low" else ROUND_CEILING)
    if not any(c in text for c in ".en"):
        text += ".0"
    return text.replace("e+", "e")


def _rounded_away(number: float, rounding: str) -> str:
    """`number` to 10 significant digits in one direction; the double the text reads back as lies on
    the same side of `number` (rounding to the nearest double keeps the order of the two)."""
    exact = Decimal(number)  # the double's exact binary value, not its shortest repr
    step = Decimal(1).scaleb(exact.adjusted() - 9)
    return format(exact.quantize(step, rounding=rounding).normalize(), "g")


def guarded(col: Column, body: str) -> str:
    """A rule on a field that may be null: null passes here (completeness rules speak about nulls).
    A field declared optional is guarded even when every sample event set it: the rule must still
    evaluate on an event without it (the gates try null), and whether it may be absent is the
    completeness rule's to say (`x != null`, offered apart), not a value rule's."""
    return f"{col.name} == null || ({body})" if col.has_nulls or col.field.optional else body


def support_factor(n: int) -> float:
    """How much n values can say: 0.5 at 30 values, 0.9 at 270."""
    return n / (n + 30)


def nice_floor(x: float, integer: bool) -> float:
    return float(math.floor(x)) if integer else _round_sig(x, math.floor)


def nice_ceil(x: float, integer: bool) -> float:
    return float(math.ceil(x)) if integer else _round_sig(x, math.ceil)


def _round_sig(x: float, fn: Any, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    scale = 10 ** (digits - 1 - math.floor(math.log10(abs(x))))
    return float(fn(x * scale) / scale)
