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
from dana_workflows.objectives.profilers.ranges import range_rule
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
    if filled_run(col, sorted(counts), settings):
        return [_run_range(col, sorted(counts), n, unseen)]
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


def filled_run(col: Column, values: list[object], settings: InferenceSettings) -> bool:
    """A count of more values than a menu, seen on at least half the whole numbers between its
    smallest and largest but not on all of them: the numbers it skips are gaps of the sample (a team
    that lost 20 games is as possible as one that lost 19 or 21), not values the field excludes."""
    if col.field.type not in ("int", "long") or len(values) <= settings.max_menu_values:
        return False
    whole = [v for v in values if isinstance(v, int)]
    span = whole[-1] - whole[0] + 1 if whole else 0
    return len(values) < span and 2 * len(values) >= span


def _run_range(col: Column, values: list[object], n: int, unseen: float) -> Candidate:
    whole = [v for v in values if isinstance(v, int)]
    lo, hi = float(whole[0]), float(whole[-1])
    t = col.field.type
    return Candidate(
        id=f"{col.name}_domain",
        rule=range_rule(col, lo, hi),
        profile="domain",
        fields=(col.name,),
        message=f"{col.name} must lie in [{literal(lo, t)}, {literal(hi, t)}]",
        basis=f"{len(values)} distinct whole numbers in {n}, the gaps between them filled",
        strength=support_factor(n) * (1.0 - unseen),
        support=n,
        kind="domain",  # it stands for the field's values, so the range profiler's rule gives way
        refine={"lo": lo, "hi": hi, "lo_open": False},
    )
