"""Cross-field relations the sample supports: a <= b, a implies b, parts that sum to a total.

Only relations that say something are kept: an order the fields' ranges already imply is dropped, an
implication needs its premise to hold often and its conclusion to fail sometimes, and a sum must
hold on every sample event where its fields are set.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
MIN_PREMISE = 10  # events where an implication's premise holds
MIN_CONTRAST = 5  # events where its conclusion fails (else it is a plain fact about the conclusion)
MAX_ADDENDS = 3


def _orderable(col: Column) -> str:
    if col.numeric:
        return "number"
    present = col.present
    if col.field.type == "string" and present and all(ISO_DATE.match(v) for v in present):
        return "date"
    return ""


def _both(a: Column, b: Column) -> list[tuple[Any, Any]]:
    return [(x, y) for x, y in zip(a.values, b.values, strict=True) if x is not None and y is not None]


def _null_guard(cols: Sequence[Column], body: str) -> str:
    nullable = [c.name for c in cols if c.has_nulls]
    if not nullable:
        return body
    return " || ".join(f"{n} == null" for n in nullable) + f" || ({body})"


def orders(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    out = []
    for a, b in itertools.permutations(cols, 2):
        kind = _orderable(a)
        if not kind or kind != _orderable(b):
            continue
        pairs = _both(a, b)
        if len(pairs) < settings.min_values or not all(x <= y for x, y in pairs):
            continue
        if not any(x < y for x, y in pairs) or _ranges_imply(a, b):
            continue
        out.append(
            Candidate(
                id=f"{a.name}_le_{b.name}",
                rule=_null_guard((a, b), f"{a.name} <= {b.name}"),
                profile="relation",
                fields=(a.name, b.name),
                message=f"{a.name} must not exceed {b.name}",
                basis=f"{a.name} <= {b.name} on all {len(pairs)} events with both set",
                strength=support_factor(len(pairs)),
                support=len(pairs),
                kind="order",
            )
        )
    return _without_transitive(out)


def _without_transitive(found: list[Candidate]) -> list[Candidate]:
    """a <= c says nothing once a <= b and b <= c are there."""
    edges = {c.fields for c in found}
    names = {n for e in edges for n in e}
    return [
        c for c in found if not any((c.fields[0], m) in edges and (m, c.fields[1]) in edges for m in names)
    ]


def _ranges_imply(a: Column, b: Column) -> bool:
    """max(a) < min(b) in the sample: the order is a consequence of the ranges, not a relation."""
    return bool(a.present and b.present and max(a.present) < min(b.present))


def implications(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    premises = _premises(cols)
    conclusions = [(f"{c.name} != null", c, lambda v: v is not None) for c in cols if c.has_nulls]
    conclusions += [(c.name, c, lambda v: v is True) for c in cols if c.field.type == "boolean"]
    conclusions += [(f"!{c.name}", c, lambda v: v is False) for c in cols if c.field.type == "boolean"]
    out = []
    for (p_text, p_col, p_test), (c_text, c_col, c_test) in itertools.product(premises, conclusions):
        if p_col is c_col:
            continue
        rows = list(zip(p_col.values, c_col.values, strict=True))
        held = [c_test(y) for x, y in rows if p_test(x)]
        contrast = sum(1 for _, y in rows if not c_test(y))
        if len(held) < MIN_PREMISE or contrast < MIN_CONTRAST or not all(held):
            continue
        negated = p_text.replace(" == ", " != ") if " == " in p_text else f"!{p_text}"
        out.append(
            Candidate(
                id=f"{p_col.name}_implies_{c_col.name}",
                rule=f"{negated} || {c_text}",
                profile="relation",
                fields=(p_col.name, c_col.name),
                message=f"when {p_text}, {c_text}",
                basis=f"held on all {len(held)} events where {p_text}; fails on {contrast} others",
                strength=support_factor(len(held)),
                support=len(held),
                kind="implies",
            )
        )
    return out


def _premises(cols: Sequence[Column]) -> list[tuple[str, Column, Any]]:
    out: list[tuple[str, Column, Any]] = []
    for c in cols:
        if c.field.type == "boolean":
            out.append((c.name, c, lambda v: v is True))
        elif c.field.type == "string":
            present = c.present
            distinct = set(present)
            if 2 <= len(distinct) <= 10 and len(present) >= 4 * len(distinct):
                for value in sorted(distinct):
                    text = f"{c.name} == {literal(value, 'string')}"
                    out.append((text, c, lambda v, value=value: v == value))
    return out


def sums(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    numeric = [c for c in cols if c.numeric]
    out = []
    taken: set[str] = set()
    for size in range(2, MAX_ADDENDS + 1):
        for total in numeric:
            if total.name in taken:
                continue
            for parts in itertools.combinations([c for c in numeric if c is not total], size):
                cand = _sum_candidate(total, parts, settings)
                if cand is not None:
                    out.append(cand)
                    taken.add(total.name)
                    break
    return out


def _sum_candidate(total: Column, parts: Sequence[Column], settings: InferenceSettings) -> Candidate | None:
    types = {p.field.type for p in parts}
    if len(types) != 1:
        return None  # CEL adds only like types
    cols = (*parts, total)
    rows = [r for r in zip(*(c.values for c in cols), strict=True) if None not in r]
    if len(rows) < settings.min_values:
        return None
    tol = settings.sum_tolerance
    if not all(abs(sum(r[:-1]) - r[-1]) <= tol for r in rows):
        return None
    if all(all(v == 0 for v in r[:-1]) for r in rows) or any(all(v == 0 for v in c.present) for c in parts):
        return None  # a part that is always zero adds nothing
    added = " + ".join(p.name for p in parts)
    integer = types <= {"int", "long"} and total.field.type in ("int", "long")
    if integer:
        body = f"{added} == {total.name}"
    else:
        t = literal(tol, "double")
        body = f"{added} - {total.name} <= {t} && {total.name} - ({added}) <= {t}"
    return Candidate(
        id=f"{total.name}_sum",
        rule=_null_guard(cols, body),
        profile="relation",
        fields=tuple(c.name for c in cols),
        message=f"{total.name} must equal {added}",
        basis=f"{added} = {total.name} on all {len(rows)} events" + ("" if integer else f" (within {tol})"),
        strength=support_factor(len(rows)),
        support=len(rows),
        kind="sum",
    )


def profile(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    return orders(cols, settings) + implications(cols, settings) + sums(cols, settings)
