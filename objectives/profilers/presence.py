"""Presence equivalences: a field that is set exactly in one case (`(outlet == "room_service") ==
(table_no == null)`), or two fields that are set together (`(r_type == null) == (reason_code == null)`).

Whether a field is there is the record's structure, not a policy with exceptions: a return date
belongs to a return trip, a table number to a table. When the sample shows the field set under some
values of a category (or one side of a flag) and absent under all the others, on every event and
beyond chance, both directions are the finding: a table number on a room-service check is as wrong
as none at a table. The implications `relations` finds for one direction are then said by the
equivalence, and so are those between the same two fields (a reason given only for an unscheduled
removal restates that the reason is there only then).

The equivalence is written from the cases in which the field is set (`(status in ["granted",
"refused"]) == (decision_date != null)`: the field is required there), unless the field is absent in
one case only and set in all the others (room service among four outlets): that exception names it,
`(outlet == "room_service") == (table_no == null)`. The two ways of writing it differ only on a premise
value the sample never showed: named from the set side, it asks for the field's absence (no case seen
to need the field was that one); named from the one exception, for its presence (the field's usual
state). Round 17 (docs/objectives.md) counted the experts' rules: of the equivalences on a category in
batches 1-19, 170 name the set side and 39 the absent one, mostly a single value (none, no show,
condemned); until then the side with fewer values named it, on a tie the one with fewer events.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.profilers.relations import MIN_CONTRAST, MIN_PREMISE, small_domain
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings


def _set_counts(p: Column, y: Column) -> dict[object, tuple[int, int]]:
    """Per premise value: (events with y set, events with y absent)."""
    out: dict[object, tuple[int, int]] = {}
    for x, v in zip(p.values, y.values, strict=True):
        s, a = out.get(x, (0, 0))
        out[x] = (s + 1, a) if v is not None else (s, a + 1)
    return out


def _chance(k_set: int, k_absent: int, n_set: int, n: int) -> float:
    """How likely y's presence followed the premise on every event if the two were unrelated: each
    side's conclusion held on all its events, q^k for q the conclusion's share; the larger of the two."""
    q_set = n_set / n
    return float(max(q_set**k_set, (1.0 - q_set) ** k_absent))


def _one_exception(set_values: Sequence[object], absent_values: Sequence[object]) -> bool:
    """The field is absent in one case only and set in several (no table number on room service, no
    next service date on a condemned raft): that case is the exception and names the rule. Otherwise
    the cases in which the field is set name it, as a requirement is written (a decision date once
    granted or refused, a seal number on a pass)."""
    return len(absent_values) == 1 and len(set_values) > 1


def _premise_equivalence(p: Column, y: Column, settings: InferenceSettings) -> Candidate | None:
    if p.has_nulls:
        return None
    values = [True, False] if p.field.type == "boolean" else small_domain(p)
    if not values or p.field.type not in ("string", "int", "long", "boolean"):
        return None
    counts = _set_counts(p, y)
    if any(s and a for s, a in counts.values()):
        return None  # under some premise value the field is sometimes set, sometimes not
    set_values = [v for v in values if counts.get(v, (0, 0))[0]]
    absent_values = [v for v in values if counts.get(v, (0, 0))[1]]
    k_set = sum(counts[v][0] for v in set_values)
    k_absent = sum(counts[v][1] for v in absent_values)
    if not set_values or not absent_values or min(k_set, k_absent) < max(MIN_PREMISE, MIN_CONTRAST):
        return None
    n = len(p.values)
    chance = _chance(k_set, k_absent, k_set, n)
    if chance > settings.relation_chance:
        return None
    if p.field.type == "boolean":
        rule = f"{p.name} == ({y.name} {'!=' if set_values == [True] else '=='} null)"
        text = p.name
    else:
        exception = _one_exception(set_values, absent_values)
        side = absent_values if exception else set_values
        items = [literal(v, p.field.type) for v in side]
        text = f"{p.name} == {items[0]}" if len(items) == 1 else f"{p.name} in [{', '.join(items)}]"
        rule = f"({text}) == ({y.name} {'==' if exception else '!='} null)"
    support = k_set + k_absent
    return Candidate(
        id=f"{y.name}_present_iff_{p.name}",
        rule=rule,
        profile="relation",
        fields=(p.name, y.name),
        message=f"{y.name} is set exactly when {text}"
        if "!=" in rule
        else f"{y.name} is absent exactly when {text}",
        basis=f"{y.name} set on all {k_set} events where {p.name} in {set_values} and absent on all "
        f"{k_absent} others (chance {chance:.1g} if unrelated)",
        strength=max(support_factor(support), 1.0 - chance),
        support=support,
        kind="presence",
    )


def _together(a: Column, b: Column, settings: InferenceSettings) -> Candidate | None:
    """Two optional fields set on the same events (a return's type and its reason code)."""
    mask = [v is None for v in a.values]
    if mask != [v is None for v in b.values]:
        return None
    absent, n = sum(mask), len(mask)
    if min(absent, n - absent) < max(MIN_PREMISE, MIN_CONTRAST):
        return None
    chance = _chance(n - absent, absent, n - absent, n)
    if chance > settings.relation_chance:
        return None
    return Candidate(
        id=f"{a.name}_present_iff_{b.name}",
        rule=f"({a.name} == null) == ({b.name} == null)",
        profile="relation",
        fields=(a.name, b.name),
        message=f"{a.name} and {b.name} are set together or not at all",
        basis=f"both set on {n - absent} events and both absent on the other {absent} "
        f"(chance {chance:.1g} if unrelated)",
        strength=max(support_factor(n), 1.0 - chance),
        support=n,
        kind="presence",
    )


def equivalences(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """One premise equivalence per optional field (a category or a flag before a number, then the
    premise with the fewest values in its named side), then fields set together where no common premise
    already says it. A number that decides a presence by its value (a loan period of 14 days, an ERG
    guide 126) stands in for the category that sets both (the material type, the hazard class)."""
    out: list[Candidate] = []
    premise_of: dict[str, str] = {}
    for y in cols:
        if not y.has_nulls:
            continue
        found = [c for p in cols if p is not y for c in [_premise_equivalence(p, y, settings)] if c]
        if found:
            numeric = {c.name for c in cols if c.numeric}
            best = min(found, key=lambda c: (c.fields[0] in numeric, c.rule.count(","), len(c.rule), c.rule))
            out.append(best)
            premise_of[y.name] = best.fields[0]
    optional = [c for c in cols if c.has_nulls]
    for a, b in itertools.combinations(optional, 2):
        if a.name in premise_of and premise_of[a.name] == premise_of.get(b.name):
            continue  # both follow one premise: the two equivalences say it
        cand = _together(a, b, settings)
        if cand is not None:
            out.append(cand)
    return out


def _premise_of(cand: Candidate) -> str:
    """`(result == "cancelled")` of `(result == "cancelled") == (inspector_id == null)`."""
    return cand.rule.rsplit(" == (", 1)[0]


def together_under_one_premise(eqs: list[Candidate]) -> list[Candidate]:
    """The equivalences of several fields with one premise, as one rule: a cancelled inspection has no
    date, no inspector and no time on site; the fields come and go together as one part of the record
    (a seat's block, row and number; a release's time, days and bill), and a reviewer writes them as one
    rule. The rule is the conjunction of the equivalences, so it says exactly what they said apart."""
    groups: dict[str, list[Candidate]] = {}
    for e in eqs:
        # a premise equivalence is `y_present_iff_p` on (p, y); two fields set together keep their own
        groups.setdefault(_premise_of(e) if _by_premise(e) else e.id, []).append(e)
    out: list[Candidate] = []
    for group in groups.values():
        if len(group) == 1:
            out += group
            continue
        premise = group[0].fields[0]
        ys = [e.fields[1] for e in group]
        out.append(
            Candidate(
                id=f"{'_'.join(ys)}_present_iff_{premise}",
                rule=" && ".join(e.rule for e in group),
                profile="relation",
                fields=(premise, *ys),
                message=f"{', '.join(ys)} follow {premise} together: " + "; ".join(e.message for e in group),
                basis="; ".join(e.basis for e in group),
                strength=min(e.strength for e in group),
                support=min(e.support for e in group),
                kind="presence",
                # refused whole (a held-out good event breaks one part), the parts are offered one by one
                refine={"parts": list(group)},
            )
        )
    return out


def _by_premise(e: Candidate) -> bool:
    """`y_present_iff_p` on (p, y): y is set exactly under some values of p (not two fields together)."""
    return e.id == f"{e.fields[1]}_present_iff_{e.fields[0]}"


def _presence_said(implication: Candidate, when: set[str]) -> bool:
    """Every field the implication says is there has a premise equivalence of its own: the case in
    which the field is set is already said (the strongest finding about it, both directions), and
    another premise for it is a correlate of that case (a construction type beside the occupancy
    group that decides a contractor's licence). What the implication adds is its values, which are
    offered only with `value_implications` (relations.implications)."""
    present = implication.refine.get("present", [])
    return bool(present) and all(name in when for name in present)


def profile(cols: Sequence[Column], found: list[Candidate], settings: InferenceSettings) -> list[Candidate]:
    """The relations found, with the presence equivalences in place of what they say: an implication
    between the two fields of an equivalence (either direction, any conclusion) restates it, and so
    does one whose every concluded presence has a premise equivalence (_presence_said)."""
    eqs = equivalences(cols, settings)
    pairs = [set(e.fields) for e in eqs]
    when = {e.fields[1] for e in eqs if _by_premise(e)}
    kept = [
        c
        for c in found
        if c.kind != "implies"
        or not (any(set(c.fields) <= pair for pair in pairs) or _presence_said(c, when))
    ]
    return kept + together_under_one_premise(eqs)
