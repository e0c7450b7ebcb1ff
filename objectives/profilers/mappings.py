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
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from dana_workflows.objectives.profilers.column import Column, literal, support_factor
from dana_workflows.objectives.profilers.relations import small_domain
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


def profile(cols: Sequence[Column], found: list[Candidate], settings: InferenceSettings) -> list[Candidate]:
    """The candidates found, with each mapping in place of its field's list of values (its image) and
    of the implications between its two fields (one category value implying one target value)."""
    maps = mappings(cols, settings)
    mapped = {m.fields[1] for m in maps}
    pairs = [set(m.fields) for m in maps]
    kept = [
        c
        for c in found
        if not (c.kind == "domain" and c.fields and c.fields[0] in mapped)
        and not (c.kind == "implies" and any(set(c.fields) <= pair for pair in pairs))
    ]
    return kept + maps
