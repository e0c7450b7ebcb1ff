"""A field that is a function of a category (`currency == (property_code == "LON01" ? "GBP" : "EUR")`,
an SLA by priority, a unit by test code, a VAT rate by country).

When every value of a category with a few values (at least three: two are a flag, which
`relations` says as an equivalence) comes with one value of another field on every sample event,
the mapping is the finding, and the other field's list of values is only its image: an expert
writes the table, not the list. It is offered only beyond chance: if the two were unrelated, each
premise group of k events would share one value with chance sum_v q_v^k (q_v the value's share), and
the product over the groups must be at most `relation_chance` over the pairs searched.

Written as one conditional: the value most premise values map to is the default (the last branch),
ties going to the group of the highest premise value, so a premise value the sample never showed
maps to the usual value. Of two fields that determine each other, the one listed first in the schema
is the premise (a record names its key before what the key sets).

The same finding from a measured quantity: a category whose values sit in bands of a number (a grade
by its score) is offered as the bands (`_bands`), and it too stands in place of the category's list.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.profilers.relations import roundest, small_domain
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

MIN_PREMISE_VALUES = 3
MIN_TARGET_VALUES = 3  # two values are a flag by another name: relations says it as an implication


def _chance(groups: dict[Any, list[Any]], shares: dict[Any, float]) -> float:
    out = 1.0
    for ys in groups.values():
        out *= sum(q ** len(ys) for q in shares.values())
    return out


def _mapping(p: Column, y: Column, pairs: int, settings: InferenceSettings) -> Candidate | None:
    if p.has_nulls or y.has_nulls or p.field.type not in ("string", "int", "long"):
        return None
    keys = small_domain(p)
    if (
        len(keys) < MIN_PREMISE_VALUES
        or len(small_domain(y)) < MIN_TARGET_VALUES
        or y.field.type == "boolean"
    ):
        return None
    groups: dict[Any, list[Any]] = defaultdict(list)
    for x, v in zip(p.values, y.values, strict=True):
        groups[x].append(v)
    image = {x: ys[0] for x, ys in groups.items() if len(set(ys)) == 1}
    if len(image) != len(groups) or len(set(image.values())) < 2:
        return None
    n = len(y.values)
    shares = {v: c / n for v, c in Counter(y.values).items()}
    chance = _chance(groups, shares)
    if chance > settings.relation_chance / pairs:
        return None
    by_value: dict[Any, list[Any]] = defaultdict(list)
    for x in keys:
        by_value[image[x]].append(x)
    default = max(by_value, key=lambda v: (len(by_value[v]), max(keys.index(x) for x in by_value[v])))
    branches = []
    for v, xs in sorted(by_value.items(), key=lambda item: keys.index(item[1][0])):
        if v == default:
            continue
        lits = [literal(x, p.field.type) for x in xs]
        test = f"{p.name} == {lits[0]}" if len(lits) == 1 else f"{p.name} in [{', '.join(lits)}]"
        branches.append(f"{test} ? {literal(v, y.field.type)} : ")
    table = "".join(branches) + literal(default, y.field.type)
    return Candidate(
        id=f"{y.name}_by_{p.name}",
        rule=f"{y.name} == ({table})",
        profile="relation",
        fields=(p.name, y.name),
        message=f"{y.name} is set by {p.name}",
        basis=f"each of the {len(keys)} values of {p.name} came with one {y.name} on all {n} events "
        f"(chance {chance:.1g} if unrelated)",
        strength=max(support_factor(n), 1.0 - chance),
        support=n,
        kind="mapping",
    )


def mappings(cols: Sequence[Column], settings: InferenceSettings) -> list[Candidate]:
    """One mapping per determined field: the premise with the fewest values, then the first listed."""
    pairs = max(1, len(cols) * (len(cols) - 1))
    order = {c.name: i for i, c in enumerate(cols)}
    found: dict[str, Candidate] = {}
    for p, y in itertools.permutations(cols, 2):
        cand = _mapping(p, y, pairs, settings)
        if cand is None:
            continue
        best = found.get(y.name)
        key = (cand.rule.count("?"), order[p.name])
        if best is None or key < (best.rule.count("?"), order[best.fields[0]]):
            found[y.name] = cand
    # two fields that determine each other: the one listed first is the premise
    out = []
    for target, cand in found.items():
        premise = cand.fields[0]
        back = found.get(premise)
        if back is not None and back.fields[0] == target and order[target] < order[premise]:
            continue
        out.append(cand)
    return out


def _bands(x: Column, y: Column, pairs: int, settings: InferenceSettings) -> Candidate | None:
    """y, a category of a few values, set by bands of the measured quantity x (a grade by its score, a
    severity by its CVSS score): sorted by x, the events show each y value in one unbroken run, and the
    runs do not share an x. Unrelated, a random order of the labels would put them in k runs with
    chance k! prod(n_i!) / n! (the arrangements that are runs among all), at most `relation_chance`
    over the pairs searched. Each cut is the roundest number in the gap between two runs, the value
    on it belonging to the upper band (a score of 90 is an A), as a policy writes its bands."""
    if x.has_nulls or y.has_nulls or not x.numeric or y.field.type != "string":
        return None
    labels = small_domain(y)
    if len(labels) < MIN_TARGET_VALUES or small_domain(x):
        return None  # a few x values make a table (mappings), not bands
    rows = sorted(zip(x.values, y.values, strict=True), key=lambda r: r[0])
    runs: list[tuple[Any, Any, Any]] = []  # (label, lowest x, highest x)
    for v, label in rows:
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], v)
        else:
            runs.append((label, v, v))
    if len(runs) != len(labels) or any(a[2] == b[1] for a, b in itertools.pairwise(runs)):
        return None  # a label in two runs, or one x value in two bands
    n = len(rows)
    counts = Counter(y.values)
    log_chance = (
        math.lgamma(len(runs) + 1) + sum(math.lgamma(c + 1) for c in counts.values()) - math.lgamma(n + 1)
    )
    if log_chance > math.log(settings.relation_chance / pairs):
        return None
    # in a gap of whole numbers the roundest cut is a whole number: the gap's top is one
    cuts = [roundest(a[2], b[1], closed_low=False) for a, b in itertools.pairwise(runs)]
    t = x.field.type
    branches = "".join(
        f"{x.name} < {literal(c, t)} ? {literal(run[0], 'string')} : "
        for c, run in zip(cuts, runs, strict=False)
    )
    rule = f"{y.name} == ({branches}{literal(runs[-1][0], 'string')})"
    return Candidate(
        id=f"{y.name}_by_{x.name}_bands",
        rule=rule,
        profile="relation",
        fields=(x.name, y.name),
        message=f"{y.name} is set by bands of {x.name}",
        basis=f"sorted by {x.name}, each of the {len(runs)} values of {y.name} is one unbroken run on all "
        f"{n} events (chance {math.exp(log_chance):.1g} if unrelated); cuts the roundest in each gap",
        strength=support_factor(n),
        support=n,
        kind="bands",
    )


def bands(cols: Sequence[Column], settings: InferenceSettings, taken: set[str]) -> list[Candidate]:
    """One banding per category no mapping sets: by the first measured quantity that bands it."""
    pairs = max(1, len(cols) * (len(cols) - 1))
    out: dict[str, Candidate] = {}
    for x, y in itertools.permutations(cols, 2):
        if y.name in taken or y.name in out:
            continue
        cand = _bands(x, y, pairs, settings)
        if cand is not None:
            out[y.name] = cand
    return list(out.values())


def profile(cols: Sequence[Column], found: list[Candidate], settings: InferenceSettings) -> list[Candidate]:
    """The candidates found, with each mapping (or banding) in place of its field's list of values (its
    image) and of the implications between its two fields (one category value implying one target
    value)."""
    maps = mappings(cols, settings)
    maps += bands(cols, settings, {m.fields[1] for m in maps})
    mapped = {m.fields[1] for m in maps}
    pairs = [set(m.fields) for m in maps]
    kept = [
        c
        for c in found
        if not (c.kind == "domain" and c.fields and c.fields[0] in mapped)
        and not (c.kind == "implies" and any(set(c.fields) <= pair for pair in pairs))
    ]
    return kept + maps
