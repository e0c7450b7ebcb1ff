"""Cross-field relations the sample supports: a <= b, a implies b, parts that sum to a total.

Only relations that say something are kept: an order the fields' ranges already imply is dropped, an
implication needs its premise to hold often and its conclusion to fail sometimes, and a sum must
hold on every sample event where its fields are set.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dana_workflows.objectives.profilers import units
from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
MIN_PREMISE = 10  # events where an implication's premise holds
MIN_CONTRAST = 5  # events where its conclusion fails (else it is a plain fact about the conclusion)
MAX_ADDENDS = 3
MAX_PREMISE_VALUES = 10  # a premise column keeps to this many values (a category, a small scale)


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


def chance_of_order(pairs: Sequence[tuple[Any, Any]]) -> float:
    """How likely `a <= b` holds on all n events if a and b were unrelated (drawn apart from each other).

    The share p of all cross pairs (a_i, b_j) where a_i > b_j is the order's failure rate under
    independence; (1 - p)^n is then the chance of seeing no failure in n events. A heart rate stays
    under a systolic pressure because of where the two ranges lie, not because one bounds the other.
    """
    n = len(pairs)
    if not n:
        return 1.0
    ys = sorted(y for _, y in pairs)
    above = sum(bisect.bisect_left(ys, x) for x, _ in pairs)  # b_j < a_i
    return float((1.0 - above / (n * n)) ** n)


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
        # an order is offered between two dates, two quantities of one kind (by their names), or
        # fields whose values show it beyond what their ranges alone would give
        if kind == "date":
            why = "both dates"
        elif units.same_kind(a.name, b.name):
            why = "quantities of one kind"
        else:
            chance = chance_of_order(pairs)
            if chance > settings.relation_chance:
                continue
            why = f"chance {chance:.1g} if unrelated"
        out.append(
            Candidate(
                id=f"{a.name}_le_{b.name}",
                rule=_null_guard((a, b), f"{a.name} <= {b.name}"),
                profile="relation",
                fields=(a.name, b.name),
                message=f"{a.name} must not exceed {b.name}",
                basis=f"{a.name} <= {b.name} on all {len(pairs)} events with both set ({why})",
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


@dataclass(frozen=True, slots=True)
class _Premise:
    column: Column
    id: str  # `risk`, `acuity_le`, `acuity_ge`: a premise's part of the rule's id
    text: str  # what holds: `risk == "high"`, `risk in [...]`, `acuity <= 2`
    negated: str  # the rule's first disjunct: `risk != "high"`, `!(risk in [...])`, `acuity > 2`
    covers: frozenset[Any]  # the premise column's values under which the premise holds

    def holds(self, value: Any) -> bool:
        return value is not None and value in self.covers


@dataclass(frozen=True, slots=True)
class _Conclusion:
    column: Column
    id: str  # `refer`, `not_refer`
    text: str
    test: Callable[[Any], bool]


def _conclusions(cols: Sequence[Column]) -> list[_Conclusion]:
    out = []
    for c in cols:
        if c.has_nulls:
            out.append(_Conclusion(c, c.name, f"{c.name} != null", lambda v: v is not None))
        if c.field.type == "boolean":
            out.append(_Conclusion(c, c.name, c.name, lambda v: v is True))
            out.append(_Conclusion(c, f"not_{c.name}", f"!{c.name}", lambda v: v is False))
    return out


def _small_domain(c: Column) -> list[Any]:
    """The sorted values of a column that keeps to a few, each seen several times; else none."""
    present = c.present
    distinct = set(present)
    if 2 <= len(distinct) <= MAX_PREMISE_VALUES and len(present) >= 4 * len(distinct):
        return sorted(distinct)
    return []


def _premises_for(p: Column, c: _Conclusion, settings: InferenceSettings) -> list[_Premise]:
    """The widest premises on column p under which conclusion c held on every sample event.

    A categorical column gives one premise: every value under which c always held, as one `in`
    (three implications with one conclusion are one rule). A whole-number column with a few values
    gives thresholds, the widest of each direction (`acuity <= 2`, not also `acuity <= 1`).
    """
    values = _small_domain(p)
    if not values or p.field.type not in ("string", "int", "long"):
        return []
    rows = list(zip(p.values, c.column.values, strict=True))
    held = {v: all(c.test(y) for x, y in rows if x == v) for v in values}
    count = Counter(x for x, _ in rows if x is not None)
    guard = f"{p.name} == null || " if p.has_nulls else ""
    out = []
    if p.field.type == "string":
        covered = [v for v in values if held[v] and count[v] >= MIN_PREMISE]
        if covered:
            items = [literal(v, "string") for v in covered]
            if len(items) == 1:
                text, negated = f"{p.name} == {items[0]}", f"{guard}{p.name} != {items[0]}"
            else:
                listed = "[" + ", ".join(items) + "]"
                text, negated = f"{p.name} in {listed}", f"{guard}!({p.name} in {listed})"
            chosen = frozenset(covered)
            out.append(_Premise(p, p.name, text, negated, chosen))
        return out
    t = p.field.type
    below = 0  # the longest run of values from the bottom under which c held
    while below < len(values) - 1 and held[values[below]]:
        below += 1
    if below:
        top = values[below - 1]
        chosen = frozenset(values[:below])
        text, negated = f"{p.name} <= {literal(top, t)}", f"{guard}{p.name} > {literal(top, t)}"
        out.append(_Premise(p, f"{p.name}_le", text, negated, chosen))
    above = 0
    while above < len(values) - 1 and held[values[-1 - above]]:
        above += 1
    if above:
        bottom = values[-above]
        chosen = frozenset(values[-above:])
        text, negated = f"{p.name} >= {literal(bottom, t)}", f"{guard}{p.name} < {literal(bottom, t)}"
        out.append(_Premise(p, f"{p.name}_ge", text, negated, chosen))
    return out


def _boolean_premise(p: Column) -> list[_Premise]:
    if p.field.type != "boolean":
        return []
    return [_Premise(p, p.name, p.name, f"!{p.name}", frozenset({True}))]


def chance_of_implication(rows: Sequence[tuple[Any, Any]], premise: _Premise, c: _Conclusion) -> float:
    """How likely c held on every event where the premise holds if the two fields were unrelated:
    q^k, q the share of all events where c holds and k the events under the premise."""
    k = sum(1 for x, _ in rows if premise.holds(x))
    q = sum(1 for _, y in rows if c.test(y)) / len(rows)
    return float(q**k)


def implications(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    found: list[Candidate] = []
    for c in _conclusions(cols):
        for p in cols:
            if p is c.column:
                continue
            rows = list(zip(p.values, c.column.values, strict=True))
            contrast = sum(1 for _, y in rows if not c.test(y))
            for premise in _boolean_premise(p) + _premises_for(p, c, settings):
                held = [c.test(y) for x, y in rows if premise.holds(x)]
                if len(held) < MIN_PREMISE or contrast < MIN_CONTRAST or not all(held):
                    continue
                chance = chance_of_implication(rows, premise, c)
                if chance > settings.relation_chance:
                    continue
                cand = Candidate(
                    id=f"{premise.id}_implies_{c.id}",
                    rule=f"{premise.negated} || {c.text}",
                    profile="relation",
                    fields=(p.name, c.column.name),
                    message=f"when {premise.text}, {c.text}",
                    basis=f"held on all {len(held)} events where {premise.text}; fails on {contrast} others "
                    f"(chance {chance:.1g} if unrelated)",
                    strength=support_factor(len(held)),
                    support=len(held),
                    kind="implies",
                )
                found.append(cand)
    return found


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


def _implied_by_sums(
    found: list[Candidate], totals: list[Candidate], cols: Sequence[Column]
) -> list[Candidate]:
    """`part <= total` follows from `parts == total` when no part goes below zero: not a rule of its own."""
    nonnegative = {c.name for c in cols if c.numeric and all(v >= 0 for v in c.present)}
    implied: set[tuple[str, ...]] = set()
    for total in totals:
        *parts, whole = total.fields
        if all(p in nonnegative for p in parts):
            implied.update((p, whole) for p in parts)
    return [c for c in found if c.fields not in implied]


def profile(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    totals = sums(cols, settings)
    return _implied_by_sums(orders(cols, settings), totals, cols) + implications(cols, settings) + totals
