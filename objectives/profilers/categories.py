"""Categorical domains: a field that keeps to a small set of values.

Whether the set is closed is judged by Good-Turing: the share of values seen exactly once estimates
how often a new value would turn up. Values seen rarely are tolerated (kept in the domain: the sample
is known-good) as long as that estimate stays within the false-alarm budget; the size limit is a
setting (`max_categories`).

The statistics do not care about the type: a double that keeps to a few repeated values (deductibles
of 250, 500, 1000; tiers of cover) is a menu, and a value off the menu is as suspect as an unknown
string. A menu is short (`max_menu_values`): a measurement read to a fixed resolution (a temperature
to 0.1 degree) repeats too, but over many values, and is a range, not a list.
"""

from __future__ import annotations

from collections import Counter

from dana_workflows.objectives.profilers.column import Column, guarded, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

DOMAIN_TYPES = frozenset({"string", "int", "long", "double", "float"})


def unseen_share(counts: Counter[object], n: int) -> float:
    """Good-Turing's estimate of the probability that the next value is one never seen."""
    singletons = sum(1 for c in counts.values() if c == 1)
    return singletons / n if n else 1.0


def domain_rule(col: Column, values: list[object]) -> str:
    items = ", ".join(literal(v, col.field.type) for v in values)
    return guarded(col, f"{col.name} in [{items}]")


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    present = col.present
    if col.field.type not in DOMAIN_TYPES or len(present) < settings.min_values:
        return []
    counts = Counter(present)
    k, n = len(counts), len(present)
    limit = settings.max_menu_values if col.field.type in ("double", "float") else settings.max_categories
    if k > limit or n / k < settings.min_mean_repeats:
        return []
    unseen = unseen_share(counts, n)
    if unseen > settings.rare_share:
        return []
    values = sorted(counts, key=lambda v: (-counts[v], v))
    rare = [v for v in values if counts[v] < settings.min_category_count]
    basis = f"{k} distinct values in {n}"
    if rare:
        basis += f" ({len(rare)} rare, kept)"
    return [
        Candidate(
            id=f"{col.name}_domain",
            rule=domain_rule(col, sorted(counts)),
            profile="domain",
            fields=(col.name,),
            message=f"{col.name} must be one of the known values",
            basis=basis,
            strength=support_factor(n) * (1.0 - unseen),
            support=n,
            kind="domain",
            refine={"values": sorted(counts)},
        )
    ]
