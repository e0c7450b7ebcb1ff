"""Cross-field relations the sample supports: a <= b, a implies b, parts that sum to a total.

Only relations that say something are kept: an order the fields' ranges already imply is dropped (and
one a share implies: a part that never reaches half its whole), an implication needs its premise to
hold often and its conclusion to fail sometimes, and a sum must hold on every sample event where its
fields are set.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dana_workflows.objectives.profilers import units
from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
MIN_PREMISE = 10  # events where an implication's premise holds
MIN_CONTRAST = 5  # events where its conclusion fails (else it is a plain fact about the conclusion)
MAX_ADDENDS = 4
# A bill of five or more lines (base fee, water, wastewater, stormwater, VAT): parts that never go below
# zero nor above the total, tried only when few columns qualify (the combinations grow fast)
MAX_LONG_ADDENDS = 8
MAX_LONG_CANDIDATES = 16
LONG_PROBE = 8  # the events a set of 5-8 parts is first tried on; every event decides after
BALANCE_PARTS = 3  # a balance (one part taken away) of three parts; a plain sum of up to MAX_ADDENDS
MAX_PREMISE_VALUES = 10  # a premise column keeps to this many values (a category, a small scale)
MAX_RATE_DIGITS = 3  # a rate or a constant set by policy is written with few digits (19%, 7%, 0.075, 1.5)


def orderable(col: Column) -> str:
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
    # every ordered pair of one kind the names do not vouch for is a test: the chance budget is
    # shared among them (Bonferroni), as an implication's order premises share theirs, or with 20
    # numbers (380 pairs) a 1% test would pass about four coincidences
    searched = sum(
        1
        for a, b in itertools.permutations(cols, 2)
        if orderable(a) not in ("", "date")
        and orderable(a) == orderable(b)
        and not units.same_kind(a.name, b.name)
        and not units.other_units(a.name, b.name)
        and not units.money_against_unit(a.name, b.name)
    )
    for a, b in itertools.permutations(cols, 2):
        kind = orderable(a)
        if not kind or kind != orderable(b):
            continue
        if units.other_units(a.name, b.name) or units.money_against_unit(a.name, b.name):
            continue  # milligrams against grams, a charge against cubic metres: not compared as written
        pairs = _both(a, b)
        if len(pairs) < settings.min_values or not all(x <= y for x, y in pairs):
            continue
        if not any(x < y for x, y in pairs) or _ranges_imply(a, b):
            continue
        if kind != "date" and _share_implies(pairs, settings):
            continue
        # an order is offered between two dates, or fields whose values show it beyond what their
        # ranges alone would give: two quantities of one kind (by their names) as one test, any
        # other pair as one of those searched
        if kind == "date":
            why = "both dates"
        elif units.same_kind(a.name, b.name):
            # the names make the pair one hypothesis (no share of the budget), but the sample must
            # still show the order: where the two ranges barely overlap, unrelated values would
            # have kept it too, and the bound is one the sample never tested (_ranges_imply's case,
            # with a few crossing pairs in place of none)
            chance = chance_of_order(pairs)
            if chance > settings.relation_chance:
                continue
            why = "quantities of one kind"
        else:
            chance = chance_of_order(pairs)
            if chance > settings.relation_chance / max(searched, 1):
                continue
            why = f"chance {chance:.1g} if unrelated, {searched} pairs searched"
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


def share_reached(pairs: Sequence[tuple[Any, Any]]) -> float | None:
    """The largest share a / b of two non-negative quantities on the events (b > 0 on each); None
    where a share means nothing (a negative value, a zero or negative b)."""
    if not pairs or any(x < 0 or y <= 0 for x, y in pairs):
        return None
    return float(max(x / y for x, y in pairs))


def _share_implies(pairs: Sequence[tuple[Any, Any]], settings: InferenceSettings) -> bool:
    """a <= b where a never reaches `order_min_share` of b on the sample: the order is a consequence of
    a share (a tax, a fee, a part much smaller than its whole), as max(a) < min(b) is of the ranges;
    a bound the sample never came near is a bound it did not test. The relative form of
    _ranges_imply: the margin is a factor, not a gap between ranges."""
    share = share_reached(non_negative_part(pairs))
    return share is not None and share < settings.order_min_share


def non_negative_part(pairs: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The events where a signed a (a balance, an adjustment, a difference) is not below zero, when b
    is positive on every event: where a < 0 <= b the order holds by the sign alone and says nothing of
    how near a comes to b, so the share is judged on the rest. With a b that is zero or negative
    somewhere the pairs are left whole (no share means anything there)."""
    if any(y <= 0 for _, y in pairs):
        return list(pairs)
    return [(x, y) for x, y in pairs if x >= 0]


@dataclass(frozen=True, slots=True)
class _Premise:
    column: Column
    id: str  # `risk`, `acuity_le`, `acuity_ge`: a premise's part of the rule's id
    text: str  # what holds: `risk == "high"`, `risk in [...]`, `acuity <= 2`
    negated: str  # the rule's first disjunct: `risk != "high"`, `!(risk in [...])`, `acuity > 2`
    covers: frozenset[Any]  # the premise column's values under which the premise holds
    reads: tuple[str, ...] = ()  # the fields the premise reads, when not its column (an order a <= b)
    chance_share: float = 1.0  # its family's share of the chance budget (an order premise is searched)
    # how far it reaches past the values the sample shows: 0 the values themselves (a category, a
    # flag), 1 a cut on a small scale, 2 a cut on a measured quantity (put in a gap the sample only
    # brackets), 3 an order of two fields
    reach: int = 0
    # `p != null`: whether the field is there is the premise, decided on every event
    on_presence: bool = False
    cut: float | None = None  # the cut of a threshold on a measured quantity (reach 2)

    def holds(self, value: Any) -> bool:
        return value is not None and value in self.covers

    @property
    def fields(self) -> tuple[str, ...]:
        return self.reads or (self.column.name,)


@dataclass(frozen=True, slots=True)
class _Conclusion:
    column: Column
    id: str  # `refer`, `not_refer`
    text: str
    test: Callable[[Any], bool]
    side: str = ""  # a flag's two conclusions (refer / not refer, pass / fail) are opposite sides


def _conclusions(cols: Sequence[Column]) -> list[_Conclusion]:
    out = []
    for c in cols:
        if c.has_nulls:
            out.append(_Conclusion(c, c.name, f"{c.name} != null", lambda v: v is not None))
        if c.field.type == "boolean":
            out.append(_Conclusion(c, c.name, c.name, lambda v: v is True, "true"))
            out.append(_Conclusion(c, f"not_{c.name}", f"!{c.name}", lambda v: v is False, "false"))
        two = sorted(set(c.present)) if c.field.type == "string" else []
        if len(two) == 2 and min(c.present.count(v) for v in two) >= MIN_CONTRAST:
            # a category of two values is a flag by another name (pass / fail, one way / return)
            for v in two:
                text = f"{c.name} == {literal(v, 'string')}"
                out.append(_Conclusion(c, f"{c.name}_{_ident(v)}", text, _equals(v), v))
        if c.numeric and any(v == 0 for v in c.present) and any(v != 0 for v in c.present):
            # zero is a quantity's absence, as null is a value's: no rpm while idle, no bedrooms on land
            zero = literal(0, c.field.type)
            out.append(_Conclusion(c, f"{c.name}_zero", f"{c.name} == {zero}", lambda v: v == 0))
    return out


def _equals(value: Any) -> Callable[[Any], bool]:
    return lambda y: bool(y == value)


def _ident(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").lower() or "value"


def _order_premises(cols: Sequence[Column], settings: InferenceSettings) -> list[_Premise]:
    """Two fields against a third: `defects <= acceptance_number` as the premise of a verdict.

    Between two numbers of one type, each side of the order seen at least MIN_PREMISE times. The
    pairs are searched, so each gets its share of the chance budget (relation_chance / pairs): with
    eight numbers that is 28 pairs, and 28 tests at 1% would let a coincidence through one time in
    four.
    """
    numeric = [c for c in cols if c.numeric and len(c.present) >= settings.min_values]
    pairs = [
        (a, b)
        for a, b in itertools.permutations(numeric, 2)
        if a.field.type == b.field.type and not units.other_units(a.name, b.name)
    ]
    out = []
    for a, b in pairs:  # both ways round: `a <= b` and `b <= a` differ where a == b
        values = [None if x is None or y is None else x <= y for x, y in zip(a.values, b.values, strict=True)]
        if min(values.count(True), values.count(False)) < MIN_PREMISE:
            continue
        column = Column(
            FieldIR.model_construct(name=f"{a.name}_le_{b.name}", type="boolean", optional=False), values
        )
        guard = " || ".join(f"{c.name} == null" for c in (a, b) if c.has_nulls)
        guard += " || " if guard else ""
        le, gt = f"{a.name} <= {b.name}", f"{a.name} > {b.name}"
        share = 1.0 / len(pairs)
        reads = (a.name, b.name)
        out += [
            _Premise(column, f"{a.name}_le_{b.name}", le, f"{guard}{gt}", frozenset({True}), reads, share, 3),
            _Premise(
                column, f"{a.name}_gt_{b.name}", gt, f"{guard}{le}", frozenset({False}), reads, share, 3
            ),
        ]
    return out


def small_domain(c: Column) -> list[Any]:
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
    values = small_domain(p)
    if not values and p.numeric:
        return _threshold_premises(p, c)
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
    cuts = _cut_share(values)
    below = 0  # the longest run of values from the bottom under which c held
    while below < len(values) - 1 and held[values[below]]:
        below += 1
    if below:
        top = values[below - 1]
        chosen = frozenset(values[:below])
        text, negated = f"{p.name} <= {literal(top, t)}", f"{guard}{p.name} > {literal(top, t)}"
        out.append(_Premise(p, f"{p.name}_le", text, negated, chosen, chance_share=cuts, reach=1))
    above = 0
    while above < len(values) - 1 and held[values[-1 - above]]:
        above += 1
    if above:
        bottom = values[-above]
        chosen = frozenset(values[-above:])
        text, negated = f"{p.name} >= {literal(bottom, t)}", f"{guard}{p.name} < {literal(bottom, t)}"
        out.append(_Premise(p, f"{p.name}_ge", text, negated, chosen, chance_share=cuts, reach=1))
    return out


def roundest(lo: float, hi: float, closed_low: bool) -> float:
    """The number with the fewest significant digits in [lo, hi) (closed_low) or (lo, hi]: where a
    policy puts a threshold (a receipt above 25, not above 24.83), which the sample only brackets."""
    top = max(abs(lo), abs(hi), 1e-9)
    for k in range(math.ceil(math.log10(top)) + 1, -7, -1):
        for step in (5 * 10.0**k, 10.0**k):  # coarsest first: 50, 10, 5, 1, 0.5 ...
            if closed_low:
                c = math.ceil(lo / step) * step
                if lo <= c < hi:
                    return round(c, 9)
            else:
                c = math.floor(hi / step) * step
                if lo < c <= hi:
                    return round(c, 9)
    return lo if closed_low else hi


def _threshold_premises(p: Column, c: _Conclusion) -> list[_Premise]:
    """A measured quantity as a premise: above (or below) a threshold the conclusion always held.

    From the top: the values down to the first one under which c failed; any threshold between that
    value and the next one up says the same of the sample, and the roundest is taken. The same from
    the bottom. Whether the run is long enough to mean something is the chance test of the caller.
    """
    rows = [(x, y) for x, y in zip(p.values, c.column.values, strict=True) if x is not None]
    values = sorted({x for x, _ in rows})
    if len(values) < 2:
        return []
    held = {v: True for v in values}
    for x, y in rows:
        if not c.test(y):
            held[x] = False
    if all(held.values()):
        return []
    t = p.field.type
    guard = f"{p.name} == null || " if p.has_nulls else ""
    cuts = _cut_share(values)
    out = []
    i = len(values)
    while held[values[i - 1]]:
        i -= 1
    if i < len(values):  # values[i:] all held; values[i - 1] failed
        cut = roundest(float(values[i - 1]), float(values[i]), closed_low=True)
        if t in ("int", "long"):
            cut = math.floor(cut)
        lit = literal(cut, t)
        chosen = frozenset(v for v in values if v > cut)
        out.append(
            _Premise(
                p,
                f"{p.name}_gt",
                f"{p.name} > {lit}",
                f"{guard}{p.name} <= {lit}",
                chosen,
                chance_share=cuts,
                reach=2,
                cut=cut,
            )
        )
    j = 0
    while held[values[j]]:
        j += 1
    if j > 0:  # values[:j] all held; values[j] failed
        cut = roundest(float(values[j - 1]), float(values[j]), closed_low=False)
        if t in ("int", "long"):
            cut = math.ceil(cut)
        lit = literal(cut, t)
        chosen = frozenset(v for v in values if v < cut)
        out.append(
            _Premise(
                p,
                f"{p.name}_lt",
                f"{p.name} < {lit}",
                f"{guard}{p.name} >= {lit}",
                chosen,
                chance_share=cuts,
                reach=2,
                cut=cut,
            )
        )
    return out


def _cut_share(values: Sequence[Any]) -> float:
    """A threshold is picked among the cuts between the sorted values (the widest run under which the
    conclusion held), so its chance is one of that many tries: each gets 1/cuts of the budget."""
    return 1.0 / max(len(values) - 1, 1)


def _presence_premise(p: Column) -> list[_Premise]:
    """A field that is sometimes absent: its being there is a premise (a scheduled drug needs a
    prescriber's registration), judged over all events, as the value premises are where it is set."""
    if not p.has_nulls or not p.present:
        return []
    name = p.name
    return [
        _Premise(
            p, f"{name}_set", f"{name} != null", f"{name} == null", frozenset(p.present), on_presence=True
        )
    ]


def _boolean_premise(p: Column) -> list[_Premise]:
    if p.field.type != "boolean":
        return []
    return [_Premise(p, p.name, p.name, f"!{p.name}", frozenset({True}))]


def chance_of_implication(rows: Sequence[tuple[Any, Any]], premise: _Premise, c: _Conclusion) -> float:
    """How likely c held on every event where the premise holds if the two fields were unrelated:
    q^k, q the share of all events where c holds and k the events under the premise."""
    k = sum(1 for x, _ in rows if premise.holds(x))
    # unrelated is judged where the premise can be decided: a premise on a field that is sometimes
    # null (or an order of two such) holds only where it is set, and how often the conclusion holds
    # there is the base rate (a conclusion tied to that field's presence holds there always: no evidence)
    decided = [y for x, y in rows if premise.on_presence or x is not None]
    if not decided:
        return 1.0
    q = sum(1 for y in decided if c.test(y)) / len(decided)
    return float(q**k)


def implications(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """Premise => conclusion, seen often enough, failing elsewhere, and beyond chance.

    What holds in one case is one rule: the conclusions found under the same premise (a plot of land
    has no bedrooms, and no bathrooms) are offered as one conjunction, as the values of one premise
    column under which one conclusion held are one `in`.
    """
    by_premise: dict[tuple[str, str], list[Found]] = {}
    orders_as_premises = _order_premises(cols, settings)
    for c in _conclusions(cols):
        contrast = sum(1 for y in c.column.values if not c.test(y))
        tried = [
            (p, q)
            for p in cols
            if p is not c.column
            for q in _boolean_premise(p) + _presence_premise(p) + _premises_for(p, c, settings)
        ]
        tried += [(q.column, q) for q in orders_as_premises if c.column.name not in q.fields]
        for p, premise in tried:
            if (
                premise.reach == 2
                and premise.cut != 0
                and c.column.field.type == "string"
                and c.side
                and not _decides(premise, c)
            ):
                # a cut in a measured quantity concluding a category's value on one side only: the
                # category is there before the number (a parcel's product, a crew member's role, a
                # meter's kind) and sets the number's range, so the cut is only where the sample's
                # groups part, a data range in disguise. A verdict decided at a threshold (fail above
                # 0.5 mm, pass at or below) is a flag by another name and stays, as a boolean flag
                # (a receipt above 25) does, and so does a cut at zero, the quantity's presence (a
                # fine only on a returned loan)
                continue
            rows = list(zip(p.values, c.column.values, strict=True))
            held = [c.test(y) for x, y in rows if premise.holds(x)]
            if premise.on_presence and all(x is not None for x, y in rows if c.test(y)):
                continue  # set exactly where c holds: an equivalence, which the presence profiler says
            if len(held) < MIN_PREMISE or contrast < MIN_CONTRAST or not all(held):
                continue
            chance = chance_of_implication(rows, premise, c)
            if chance > settings.relation_chance * premise.chance_share:
                continue
            by_premise.setdefault((premise.text, premise.negated), []).append((premise, c, len(held), chance))
    found, pairs = _without_redundant(*_without_defaults(_restated(by_premise)))
    equivalences = [_equivalence(*pair) for pair in pairs]
    # an order premise of the same two fields and conclusion column as an equivalence is a part of it
    covered = {(frozenset(e.fields[:-1]), e.fields[-1]) for e in equivalences}
    found = [f for f in found if not f[0].reads or (frozenset(f[0].reads), f[1].column.name) not in covered]
    kept: dict[tuple[str, str], list[Found]] = {}
    for f in found:
        kept.setdefault((f[0].text, f[0].negated), []).append(f)
    groups = list(kept.values())
    if not settings.value_implications:
        # decided after the redundancy passes, so a value finding dropped here does not bring back
        # a narrower one it had made redundant; an equivalence concludes a flag's side, a value.
        # An implication on a flag's premise stays (round 18: `!dg_on_board || notoc_issued`): over
        # break-even on both halves of the suite, where a category's or a threshold's premise is a
        # habit as often
        groups = [g for g in groups if any(_concludes_presence(c) for _, c, _, _ in g) or _on_flag(g[0][0])]
        equivalences = []
    return [_implication(group) for group in groups] + equivalences


def _on_flag(premise: _Premise) -> bool:
    """The premise is that a boolean field is true (`dg_on_board`): the flag itself, not its presence
    (`dg_on_board != null`) nor an order of two numbers (`a <= b`, a boolean column inside this module).
    Only `_boolean_premise` writes the bare name of its column."""
    return premise.text == premise.column.name


def _concludes_presence(c: _Conclusion) -> bool:
    """The conclusion is that a field is there (`permit_no != null`), not what its value is."""
    return c.id == c.column.name and c.text == f"{c.column.name} != null"


Found = tuple[_Premise, _Conclusion, int, float]  # premise, conclusion, events under it, chance


def _decides(premise: _Premise, c: _Conclusion) -> bool:
    """Whether the premise's field decides the two-valued category on every sample event where both
    are set: c's value where the premise holds, the other value where it does not (a verdict from a
    deviation's threshold), not only one side of the cut (small parcels light, light parcels of both
    kinds)."""
    rows = zip(premise.column.values, c.column.values, strict=True)
    return all(premise.holds(x) == c.test(y) for x, y in rows if x is not None and y is not None)


def _restated(by_premise: dict[tuple[str, str], list[Found]]) -> list[Found]:
    """Drop a premise on one field when an order of that field against another premises the same
    conclusion: the order says where the conclusion changes (defects against the acceptance number),
    and a threshold on one of its fields (`defects >= 12`) only restates it at the other's range edge."""
    found = [f for group in by_premise.values() for f in group]
    by_order = {(name, c.column.name) for p, c, _, _ in found if p.reads for name in p.reads}
    return [f for f in found if f[0].reads or (f[0].column.name, f[1].column.name) not in by_order]


def _selects(premise: _Premise) -> frozenset[int]:
    """The sample events where the premise holds."""
    return frozenset(i for i, x in enumerate(premise.column.values) if premise.holds(x))


def _simplicity(premise: _Premise) -> tuple[int, int, bool, int, str]:
    """Fewer fields first, then the premise that reaches least past the sample's values (a category
    before a cut put in a gap of the sample), an order written in its names' order (`a <= b` and
    `b > a` are one order: the same one is kept for every conclusion), then the shorter."""
    reads = premise.reads
    return (
        len(premise.fields),
        premise.reach,
        reads != tuple(sorted(reads)),
        len(premise.text),
        premise.text,
    )


def _without_redundant(
    found: list[Found], equivalences: list[Equivalence]
) -> tuple[list[Found], list[Equivalence]]:
    """One finding, said once: an implication whose premise selects no sample event outside another's
    premise, and whose conclusions are among the other's, adds no evidence of its own.

    Every event that supports it supports the other too, so the sample cannot tell them apart, and
    the wider premise explains it. Where fields are zero together (a return with no income has no
    taxable income, tax, withholding or balance), each order between two of them (`dependents >
    total_tax`, `taxable_income <= withholding`, ...) selects some of the same all-zero events and
    would restate the one finding, as `a > b` and `b <= a` restate each other. Of premises that select
    the same events with the same conclusions, the simplest is kept (`_simplicity`). An equivalence
    says two implications (each side of its premise); it goes only when both are said elsewhere.
    Run after the defaults are settled, so a narrower premise is never given up for a wider one that
    is then dropped as a default.
    """
    groups: dict[tuple[str, str], list[Found]] = {}
    for f in found:
        groups.setdefault((f[0].text, f[0].negated), []).append(f)
    # a unit: its halves (events selected, conclusions) and how simple its premise is
    units: list[tuple[list[tuple[frozenset[int], frozenset[str]]], tuple[int, int, bool, int, str]]] = []
    for group in groups.values():
        units.append(
            ([(_selects(group[0][0]), frozenset(c.text for _, c, _, _ in group))], _simplicity(group[0][0]))
        )
    for side, other in equivalences:
        halves = [(_selects(f[0]), frozenset({f[1].text})) for f in (side, other)]
        units.append((halves, _simplicity(side[0])))

    def said_elsewhere(u: int, half: tuple[frozenset[int], frozenset[str]]) -> bool:
        events, says = half
        for v, (halves, simple) in enumerate(units):
            for e, c in halves:
                if v == u or not (events <= e and says <= c):
                    continue
                if (events, says) != (e, c) or simple < units[u][1]:
                    return True
        return False

    kept = [not all(said_elsewhere(u, h) for h in units[u][0]) for u in range(len(units))]
    # decided on the whole set first, so two units that restate each other are judged alike
    n = len(groups)
    found = [f for keep, group in zip(kept[:n], groups.values(), strict=True) if keep for f in group]
    return found, [e for keep, e in zip(kept[n:], equivalences, strict=True) if keep]


def _opposite(c1: _Conclusion, c2: _Conclusion) -> bool:
    return c1.column is c2.column and bool(c1.side) and bool(c2.side) and c1.side != c2.side


def _split(p1: _Premise, p2: _Premise) -> bool:
    """The two premises divide the premise column's values between them."""
    values = set(p1.column.present)
    return p1.column is p2.column and not p1.covers & p2.covers and (p1.covers | p2.covers) == values


Equivalence = tuple[Found, Found]  # the side it is said from, then the opposite side


def _without_defaults(found: list[Found]) -> tuple[list[Found], list[Equivalence]]:
    """Two implications that split one premise column in two and conclude opposite sides of a flag.

    When the premise column has only two values (an order `a <= b` or its reverse, a category of two)
    the pair is one equivalence, and nothing is claimed for a value the sample has not shown: offered
    as `(premise) == (conclusion)`. Otherwise (high risk => refer; low or medium => not refer) the
    narrower premise is the rule and the wider one the default: policy says when a flag must be set,
    and the sample's "never otherwise" is the habit of the data, which a rule would turn into a ban (a
    low-risk claim an assessor refers). The wider one is dropped; on a tie both stay.
    """
    drop: set[int] = set()
    equivalences: list[Equivalence] = []
    for i, (p1, c1, n1, _) in enumerate(found):
        for j, (p2, c2, n2, _) in enumerate(found):
            if j <= i or i in drop or j in drop or not _opposite(c1, c2) or not _split(p1, p2):
                continue
            binary = len(p1.covers) == 1 and len(p2.covers) == 1
            guarded_ = "== null ||" in p1.negated or c1.column.has_nulls
            if binary and not guarded_:
                drop.update((i, j))
                # said from the side that holds more often: `(defects <= acceptance) == (result == "pass")`
                equivalences.append((found[i], found[j]) if n1 >= n2 else (found[j], found[i]))
            elif n1 != n2:
                drop.add(j if n2 > n1 else i)
    return [f for k, f in enumerate(found) if k not in drop], equivalences


def _equivalence(side: Found, other: Found) -> Candidate:
    premise, c = side[0], side[1]
    support, chance = side[2] + other[2], max(side[3], other[3])
    return Candidate(
        id=f"{premise.id}_iff_{c.id}",
        rule=f"({premise.text}) == ({c.text})",
        profile="relation",
        fields=(*premise.fields, c.column.name),
        message=f"{c.text} exactly when {premise.text}",
        basis=f"{c.text} on every event where {premise.text} and on no other of {support} "
        f"(chance {chance:.1g} if unrelated)",
        strength=max(support_factor(support), 1.0 - chance),
        support=support,
        kind="implies",
    )


def _implication(found: list[Found]) -> Candidate:
    premise = found[0][0]
    conclusions = [c for _, c, _, _ in found]
    held = found[0][2]  # one premise: the same events
    chance = max(ch for *_, ch in found)
    if len(conclusions) == 1:
        text = conclusions[0].text
    else:
        text = "(" + " && ".join(c.text for c in conclusions) + ")"
    return Candidate(
        id=f"{premise.id}_implies_" + "_and_".join(c.id for c in conclusions),
        rule=f"{premise.negated} || {text}",
        profile="relation",
        fields=(*premise.fields, *(c.column.name for c in conclusions)),
        message=f"when {premise.text}, {text}",
        basis=f"held on all {held} events where {premise.text}; each conclusion fails on other events "
        f"(chance {chance:.1g} if unrelated)",
        # the chance test is the evidence: a premise of 12 events under which a conclusion of share
        # 0.2 always held is no coincidence (0.2^12), however few 12 events are for a range
        strength=max(support_factor(held), 1.0 - chance),
        support=held,
        kind="implies",
        # the fields it says are there: what the presence profiler weighs it by (presence.profile)
        refine={"present": [c.column.name for c in conclusions if _concludes_presence(c)]},
    )


def sums(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """Totals of 2-4 parts (`net + vat == gross`; a bill of food, drinks, VAT and tip), of 5-8 parts
    that never go below zero (`_long_sums`: a water bill's five lines), and balances of
    three where one part is taken away (`output_vat + other_vat - input_vat == net_vat`: inflows less
    an outflow).

    A sum that follows from those already found says nothing new (`dow + payload + fuel == takeoff`
    beside `dow + payload == zfw` and `zfw + fuel == takeoff`), and one that does not is a finding of
    its own even for a total that already has one (`landing + trip_fuel == takeoff`): each relation is
    a vector of +1/-1 over the fields, and only one that raises the rank of those kept is offered.
    Smaller first, plain sums before balances.
    """
    numeric = [c for c in cols if c.numeric]
    out = []
    kept = _Span()
    for size in range(2, MAX_ADDENDS + 1):
        for taken_away in (False, True) if size == BALANCE_PARTS else (False,):
            # a balance goes below zero where its parts do not: such a field is tried as the total first
            totals = (
                sorted(numeric, key=lambda c: not any(v < 0 for v in c.present)) if taken_away else numeric
            )
            for total in totals:
                for parts in itertools.combinations([c for c in numeric if c is not total], size):
                    for minus in parts if taken_away else (None,):
                        # the sum's own test first: it refuses nearly every set on two events, while
                        # the span's exact fractions cost more (the order does not change what is kept)
                        cand = _sum_candidate(total, parts, settings, minus)
                        if cand is None:
                            continue
                        coefs = {p.name: -1 if p is minus else 1 for p in parts} | {total.name: -1}
                        if not kept.spans(coefs):
                            out.append(cand)
                            kept.add(coefs)
    for total in numeric:
        for parts in _long_sums(total, numeric, settings):
            coefs = {p.name: 1 for p in parts} | {total.name: -1}
            if kept.spans(coefs):
                continue
            cand = _sum_candidate(total, parts, settings)
            if cand is not None:
                out.append(cand)
                kept.add(coefs)
    return out


def _long_sums(
    total: Column, numeric: Sequence[Column], settings: InferenceSettings
) -> list[tuple[Column, ...]]:
    """Sets of 5..MAX_LONG_ADDENDS parts whose sum is `total` on the first LONG_PROBE events where
    those parts and the total are set.

    Only parts of the total's type that are never below zero, never above the total and not always
    zero can add up to it without a part taken away; a bill's lines are such parts. With more than
    MAX_LONG_CANDIDATES of them none is tried (a table of many small counts is not a bill).
    """
    tol = settings.sum_tolerance
    parts = []
    for c in numeric:
        if c is total or c.field.type != total.field.type:
            continue
        pairs = _both(c, total)
        if pairs and all(0 <= v <= t + tol for v, t in pairs) and any(v != 0 for v, _ in pairs):
            parts.append(c)
    if len(parts) < 5 or len(parts) > MAX_LONG_CANDIDATES:
        return []
    # each set of parts is probed on the first events where those parts and the total are set, so a
    # column set only on some bills (a card fee shown on card payments) does not keep other lines out
    rows = [
        (sum(1 << i for i, v in enumerate(r[:-1]) if v is not None), r)
        for r in zip(*(c.values for c in (*parts, total)), strict=True)
        if r[-1] is not None
    ]
    found = []
    for size in range(5, min(MAX_LONG_ADDENDS, len(parts)) + 1):
        for chosen in itertools.combinations(range(len(parts)), size):
            if _probe_adds_up(chosen, rows, tol):
                found.append(tuple(parts[i] for i in chosen))
    return found


def _probe_adds_up(chosen: tuple[int, ...], rows: list[tuple[int, tuple[Any, ...]]], tol: float) -> bool:
    """Whether the chosen parts add up to the total (a row's last value) on the first LONG_PROBE rows
    that set them all (a row's mask has bit i for each part i it sets); parts never set together do
    not: nothing says they add up."""
    need = sum(1 << i for i in chosen)
    seen = 0
    for mask, r in rows:
        if mask & need != need:
            continue
        if abs(sum(r[i] for i in chosen) - r[-1]) > tol:
            return False
        seen += 1
        if seen == LONG_PROBE:
            break
    return seen > 0


class _Span:
    """The relations kept, as rows of a matrix in echelon form over the fields (exact fractions)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Fraction]]] = []  # (pivot field, row)

    def _reduce(self, coefs: dict[str, int]) -> dict[str, Fraction]:
        v = {k: Fraction(c) for k, c in coefs.items()}
        for pivot, row in self.rows:
            f = v.get(pivot, Fraction(0))
            if f:
                for k, c in row.items():
                    v[k] = v.get(k, Fraction(0)) - f * c
        return {k: c for k, c in v.items() if c}

    def spans(self, coefs: dict[str, int]) -> bool:
        return not self._reduce(coefs)

    def add(self, coefs: dict[str, int]) -> None:
        v = self._reduce(coefs)
        pivot = min(v)
        row = {k: c / v[pivot] for k, c in v.items()}
        reduced = []
        for p, r in self.rows:  # keep the pivot out of every other row
            f = r.get(pivot, Fraction(0))
            if f:
                r = {k: r.get(k, Fraction(0)) - f * row.get(k, Fraction(0)) for k in {*r, *row}}
                r = {k: c for k, c in r.items() if c}
            reduced.append((p, r))
        self.rows = [*reduced, (pivot, row)]


def _sum_candidate(
    total: Column, parts: Sequence[Column], settings: InferenceSettings, minus: Column | None = None
) -> Candidate | None:
    types = {p.field.type for p in parts}
    if len(types) != 1:
        return None  # CEL adds only like types
    cols = (*parts, total)
    sign = [-1 if p is minus else 1 for p in parts]
    tol = settings.sum_tolerance
    complete = (r for r in zip(*(c.values for c in cols), strict=True) if None not in r)
    head = list(itertools.islice(complete, 2))
    if _refused_by_two(head, sign, tol, offset_allowed=minus is None and len(parts) == 2):
        return None  # sums() tries every set of 2-4 parts for every total: most fail on their first events
    rows = head + list(complete)
    if len(rows) < settings.min_values:
        return None
    sums_ = [sum(g * v for g, v in zip(sign, r[:-1], strict=True)) for r in rows]
    offset = 0.0
    if not all(abs(s - r[-1]) <= tol for s, r in zip(sums_, rows, strict=True)):
        if minus is not None or len(parts) != 2:
            return None
        fitted = _offset(sums_, [r[-1] for r in rows], tol, settings)
        if fitted is None:
            return None
        offset = fitted
    if all(all(v == 0 for v in r[:-1]) for r in rows) or any(all(v == 0 for v in c.present) for c in parts):
        return None  # a part that is always zero adds nothing
    added = " + ".join(p.name for p in parts if p is not minus) + (f" - {minus.name}" if minus else "")
    integer = types <= {"int", "long"} and total.field.type in ("int", "long")
    if offset:
        constant = literal(abs(offset), "long" if integer else "double")
        added += f" {'-' if offset < 0 else '+'} {constant}"
    if integer:
        body = f"{added} == {total.name}"
    else:
        t = literal(tol, "double")
        body = f"{added} - {total.name} <= {t} && {total.name} - ({added}) <= {t}"
    return Candidate(
        id=f"{total.name}_{'balance' if minus else 'sum'}",
        rule=_null_guard(cols, body),
        profile="relation",
        fields=tuple(c.name for c in cols),
        message=f"{total.name} must equal {added}",
        basis=f"{added} = {total.name} on all {len(rows)} events" + ("" if integer else f" (within {tol})"),
        strength=support_factor(len(rows)),
        support=len(rows),
        kind="balance" if minus else "sum",
        refine={"offset": offset},
    )


def _refused_by_two(
    head: Sequence[tuple[Any, ...]], sign: Sequence[int], tol: float, *, offset_allowed: bool
) -> bool:
    """True when the first two complete events already rule a sum out, as _sum_candidate's full test
    would (computed the same way, so the same floats): the first event's parts miss its total, and where
    a constant may be added (`_offset`: every event's difference within 2 tol of every other's) the two
    differences are further apart than that. A search over ~n^5 sets of parts stops there for nearly all
    of them instead of summing every event (16 random numeric columns: 23 s before, session 16)."""
    diffs: list[float] = [r[-1] - sum(g * v for g, v in zip(sign, r[:-1], strict=True)) for r in head]
    if not diffs:
        return False
    if not offset_allowed:
        return abs(diffs[0]) > tol
    return len(diffs) == 2 and abs(diffs[0] - diffs[1]) > 2 * tol


def _offset(
    sums_: Sequence[float], totals: Sequence[float], tol: float, settings: InferenceSettings
) -> float | None:
    """A constant c with `parts + c == total` on every event (the ITIL priority is impact + urgency - 1):
    every event bounds c to [d - tol, d + tol] for d = total - parts, the bounds meet, and the roundest
    number left has at most MAX_RATE_DIGITS significant digits (a rule's constant, not a measurement).
    The parts' sum must vary (one value fits any constant), and the match be beyond chance: the share
    of pairs (parts_i + c, total_j) that agree anyway, to the n-th power, at most `relation_chance`."""
    diffs = [t - s for s, t in zip(sums_, totals, strict=True)]
    lo, hi = max(diffs) - tol, min(diffs) + tol
    if lo > hi or len(set(sums_)) < 2:
        return None
    c = roundest(lo, hi, closed_low=True) if lo < hi else lo
    if not lo <= c <= hi or abs(c) <= tol or float(format(c, f".{MAX_RATE_DIGITS}g")) != c:
        return None
    n = len(sums_)
    ordered = sorted(totals)
    agree = sum(
        bisect.bisect_right(ordered, s + c + tol) - bisect.bisect_left(ordered, s + c - tol) for s in sums_
    )
    if (agree / (n * n)) ** n > settings.relation_chance:
        return None
    return c


def _as_double(c: Column) -> str:
    """A numeric field in a rule that compares it within a tolerance: whole numbers made double."""
    return f"double({c.name})" if c.field.type in ("int", "long") else c.name


def products(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """A total that is the product of two other fields on every sample event (`total == nights * rate`).

    Within the sums' rounding tolerance (a bill in cents of a rate in cents), each factor varying (a
    constant factor is a fixed ratio, not a product of fields), and beyond chance: the share of
    mismatched pairs (a_i * b_i, total_j) that agree anyway, raised to the n events, is at most
    `relation_chance`. One product per total.
    """
    numeric = [c for c in cols if c.numeric]
    out = []
    for total in numeric:
        for a, b in itertools.combinations([c for c in numeric if c is not total], 2):
            cand = _product_candidate(total, a, b, settings)
            if cand is not None:
                out.append(cand)
                break
    return out


def _product_candidate(total: Column, a: Column, b: Column, settings: InferenceSettings) -> Candidate | None:
    cols = (a, b, total)
    rows = [r for r in zip(a.values, b.values, total.values, strict=True) if None not in r]
    if len(rows) < settings.min_values:
        return None
    tol = settings.sum_tolerance
    if not all(abs(x * y - t) <= tol for x, y, t in rows):
        return None
    if len({x for x, _, _ in rows}) < 2 or len({y for _, y, _ in rows}) < 2:
        return None  # a constant factor: a fixed ratio or a copy, not a product of two fields
    if all(abs(t) <= tol for _, _, t in rows):
        return None  # a product that is always zero says nothing
    chance = chance_of_product(rows, tol)
    if chance > settings.relation_chance:
        return None
    integer = all(c.field.type in ("int", "long") for c in cols)
    if integer:
        body = f"{a.name} * {b.name} == {total.name}"
    else:
        left = " * ".join(_as_double(c) for c in (a, b))
        right = _as_double(total)
        t = literal(tol, "double")
        body = f"{left} - {right} <= {t} && {right} - {left} <= {t}"
    return Candidate(
        id=f"{total.name}_product",
        rule=_null_guard(cols, body),
        profile="relation",
        fields=(a.name, b.name, total.name),
        message=f"{total.name} must equal {a.name} * {b.name}",
        basis=f"{a.name} * {b.name} = {total.name} on all {len(rows)} events"
        + ("" if integer else f" (within {tol})")
        + f" (chance {chance:.1g} if unrelated)",
        strength=support_factor(len(rows)),
        support=len(rows),
        kind="product",
    )


def chance_of_product(rows: Sequence[tuple[Any, Any, Any]], tol: float) -> float:
    """How likely the product matched the total on all n events if the total were unrelated to it:
    p, the share of pairs (a_i * b_i, total_j) that agree, to the n-th power."""
    n = len(rows)
    totals = sorted(t for _, _, t in rows)
    agree = 0
    for x, y, _ in rows:
        v = x * y
        agree += bisect.bisect_right(totals, v + tol) - bisect.bisect_left(totals, v - tol)
    return float((agree / (n * n)) ** n)


def rates(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """A field that is a fixed multiple of another on every sample event (`vat == 0.19 * sales`).

    A product with a constant factor: the constant is not a field, so it is read off the sample. Every
    event with the base set bounds it to [(a - tol) / b, (a + tol) / b]; the bounds of all events must
    meet, and in what is left there must be a number of at most MAX_RATE_DIGITS significant digits (a
    rate is a policy's number; a ratio that needs more digits to fit is a measurement, or chance). The
    base must vary (one base value fits any ratio), the result must not be always zero, k is neither 0
    nor 1 (a copy is not a rate), and the match must be beyond chance as for a product: the share of
    pairs (k * b_i, a_j) that agree anyway, to the n-th power, at most `relation_chance`. One rate per
    result, and of `a == k * b` and `b == a / k` the one with the rounder constant (then k < 1).
    """
    numeric = [c for c in cols if c.numeric]
    found: dict[frozenset[str], tuple[tuple[int, bool], Candidate]] = {}
    results: set[str] = set()
    for a, b in itertools.permutations(numeric, 2):
        if a.name in results:
            continue
        fit = _rate_fit(a, b, settings)
        if fit is None:
            continue
        k, cand = fit
        key = frozenset((a.name, b.name))
        rank = (len(format(k, ".10g").replace("0.", "").strip("0")), k > 1)
        if key not in found or rank < found[key][0]:
            found[key] = (rank, cand)
            results.add(a.name)
    return [cand for _, cand in found.values()]


def constant_bounds(pairs: Iterable[tuple[float, float]], tol: float) -> tuple[float, float] | None:
    """The constants k with |y - k * x| <= tol on every pair (x, y), as an interval [lo, hi], or None
    when no k fits them all (an x of zero allows any k, but only a y within tol of zero). Stops at the
    first pair that leaves no k: on most pairs of fields that is the second or third."""
    lo, hi = -math.inf, math.inf
    for x, y in pairs:
        if x == 0:
            if abs(y) > tol:
                return None
            continue
        low, high = sorted(((y - tol) / x, (y + tol) / x))
        lo, hi = max(lo, low), min(hi, high)
        if lo > hi:
            return None
    return lo, hi


def _rate_fit(a: Column, b: Column, settings: InferenceSettings) -> tuple[float, Candidate] | None:
    rows = [(y, x) for y, x in zip(a.values, b.values, strict=True) if x is not None and y is not None]
    if len(rows) < settings.min_values:
        return None
    tol = settings.sum_tolerance
    if len({x for _, x in rows if x != 0}) < 2 or all(abs(y) <= tol for y, _ in rows):
        return None
    bounds = constant_bounds(((x, y) for y, x in rows), tol)
    if bounds is None:
        return None
    lo, hi = bounds
    k = roundest(lo, hi, closed_low=True) if lo < hi else lo
    if not lo <= k <= hi or k in (0.0, 1.0) or float(format(k, f".{MAX_RATE_DIGITS}g")) != k:
        return None
    chance = chance_of_product([(k, x, y) for y, x in rows], tol)
    if chance > settings.relation_chance:
        return None

    kx = f"{literal(k, 'double')} * {_as_double(b)}"
    t = literal(tol, "double")
    body = f"{_as_double(a)} - {kx} <= {t} && {kx} - {_as_double(a)} <= {t}"
    return k, Candidate(
        id=f"{a.name}_rate",
        rule=_null_guard((b, a), body),
        profile="relation",
        fields=(b.name, a.name),
        message=f"{a.name} must equal {literal(k, 'double')} * {b.name}",
        basis=f"{a.name} = {literal(k, 'double')} * {b.name} on all {len(rows)} events (within {tol}; "
        f"the roundest constant all of them allow; chance {chance:.1g} if unrelated)",
        strength=support_factor(len(rows)),
        support=len(rows),
        kind="rate",
        refine={"rate": k},  # the constant, for the orders it implies (refinement widens no rate)
    )


def rated_sums(cols: Sequence[Column], settings: InferenceSettings, taken: set[str]) -> list[Candidate]:
    """A field that is two others each at a fixed rate (`vat == 0.07 * food + 0.19 * drinks`: two VAT
    rates on one bill), where no single relation already makes it (`taken`).

    The two constants are read off the sample by least squares, then each written with at most
    MAX_RATE_DIGITS significant digits (a rate is a policy's number) and the pair kept only when it
    fits every event within the sums' tolerance; both are positive and neither is 1 (a part added
    whole or taken away makes a sum or a balance, which `sums` finds), each base varies, and the
    match is beyond chance as for a product. One per result, the fewest digits.
    """
    numeric = [c for c in cols if c.numeric]
    out = []
    for total in numeric:
        if total.name in taken:
            continue
        best: tuple[int, Candidate] | None = None
        for a, b in itertools.combinations([c for c in numeric if c is not total], 2):
            fit = _rated_sum_fit(total, a, b, settings)
            if fit is not None and (best is None or fit[0] < best[0]):
                best = fit
        if best is not None:
            out.append(best[1])
    return out


def _rounded(k: float) -> list[float]:
    return sorted(
        {float(format(k, f".{d}g")) for d in range(1, MAX_RATE_DIGITS + 1)}, key=lambda v: abs(v - k)
    )


def _digits(k: float) -> int:
    return len(format(k, ".10g").replace("-", "").replace("0.", "").replace(".", "").strip("0"))


def _rated_sum_fit(
    total: Column, a: Column, b: Column, settings: InferenceSettings
) -> tuple[int, Candidate] | None:
    rows = [r for r in zip(a.values, b.values, total.values, strict=True) if None not in r]
    n = len(rows)
    if n < settings.min_values or len({x for x, _, _ in rows}) < 2 or len({y for _, y, _ in rows}) < 2:
        return None
    sxx = sum(x * x for x, _, _ in rows)
    syy = sum(y * y for _, y, _ in rows)
    sxy = sum(x * y for x, y, _ in rows)
    sxt = sum(x * t for x, _, t in rows)
    syt = sum(y * t for _, y, t in rows)
    det = sxx * syy - sxy * sxy
    if abs(det) <= 1e-9 * max(sxx * syy, 1e-12):
        return None  # the two bases move together: the constants are not determined
    k1, k2 = (sxt * syy - syt * sxy) / det, (syt * sxx - sxt * sxy) / det
    tol = settings.sum_tolerance
    for c1, c2 in sorted(
        itertools.product(_rounded(k1), _rounded(k2)), key=lambda p: _digits(p[0]) + _digits(p[1])
    ):
        if not (0.0 < c1 != 1.0 and 0.0 < c2 != 1.0):
            continue  # two rates: a part taken away or added whole is a sum or a balance, found there
        if not all(abs(c1 * x + c2 * y - t) <= tol for x, y, t in rows):
            continue
        chance = chance_of_product([(1.0, c1 * x + c2 * y, t) for x, y, t in rows], tol)
        if chance > settings.relation_chance:
            return None

        made = f"{literal(c1, 'double')} * {_as_double(a)} + {literal(c2, 'double')} * {_as_double(b)}"
        lit = literal(tol, "double")
        body = f"{_as_double(total)} - ({made}) <= {lit} && {made} - {_as_double(total)} <= {lit}"
        return _digits(c1) + _digits(c2), Candidate(
            id=f"{total.name}_rated_sum",
            rule=_null_guard((a, b, total), body),
            profile="relation",
            fields=(a.name, b.name, total.name),
            message=f"{total.name} must equal {made}",
            basis=f"{total.name} = {made} on all {n} events (within {tol}; the constants of fewest digits "
            f"that fit all of them; chance {chance:.1g} if unrelated)",
            strength=support_factor(n),
            support=n,
            kind="rated_sum",
        )
    return None


def _implied_by_sums(
    found: list[Candidate], totals: list[Candidate], cols: Sequence[Column]
) -> list[Candidate]:
    """`part <= total` follows from `parts == total` when no part goes below zero: not a rule of its own."""
    nonnegative = {c.name for c in cols if c.numeric and all(v >= 0 for v in c.present)}
    at_least_one = {c.name for c in cols if c.numeric and all(v >= 1 for v in c.present)}
    lowest = {c.name: (min(c.present) if c.present else None) for c in cols if c.numeric}
    implied: set[tuple[str, ...]] = set()
    for total in totals:
        *parts, whole = total.fields
        if total.kind == "rate":
            # `a == k * b` with b never below zero: a <= b when k < 1, b <= a when k > 1
            base, result = parts[0], whole
            k = float(total.refine["rate"])
            if base in nonnegative:
                implied.add((result, base) if k < 1 else (base, result))
        elif total.kind == "product":
            # `b <= a * b` when a never goes below 1 and b below 0 (a rate under the bill of its nights)
            a, b = parts
            for part, other in ((a, b), (b, a)):
                if part in nonnegative and other in at_least_one:
                    implied.add((part, whole))
        elif total.kind == "sum":
            # `part <= total` when the other parts plus the constant never go below zero
            offset = float(total.refine.get("offset", 0.0))
            for p in parts:
                others = [lowest.get(o) for o in parts if o != p]
                if (
                    all(o is not None for o in others)
                    and sum(o for o in others if o is not None) + offset >= 0
                ):
                    implied.add((p, whole))
    return [c for c in found if c.fields not in implied]


def profile(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    totals = sums(cols, settings)
    summed = {c.fields[-1] for c in totals}
    totals += [c for c in products(cols, settings) if c.fields[-1] not in summed]
    # a rate is its own finding beside a sum of the same field (vat == 0.19 * sales, and vat is a part
    # of the return's balance), but a product already says how the field is made
    made = {c.fields[-1] for c in totals if c.kind == "product"}
    totals += [c for c in rates(cols, settings) if c.fields[-1] not in made]
    totals += rated_sums(cols, settings, {c.fields[-1] for c in totals})
    within = [set(t.fields) for t in totals]
    # what holds among the fields of a sum (a total above a part means the other parts are not zero)
    # is what the sum already says
    implied = [c for c in implications(cols, settings) if not any(set(c.fields) <= w for w in within)]
    return _implied_by_sums(orders(cols, settings), totals, cols) + implied + totals
