"""One finding said once, across profilers: two rules over the same fields that give the same verdict
on every recombination of the sample's values are one rule.

Two profilers can reach one fact from two sides: an order `lost_time_incidents <= incidents` and an
implication `incidents > 0 || lost_time_incidents == 0` on counts of 0-2, or an implication and its
contrapositive (`!exemption || copayment == 0.0` beside `copayment <= 0.0 || !exemption` for a
copayment that is never negative). Within the values the sample shows, they accept and reject the same
events, so the sample gives no evidence for one that it does not give for the other, and offering both
only doubles the review. The test: the sample's events, and `RECOMBINED` events whose fields are drawn
each on its own from the sample's values (so combinations the sample never shows are tried too); two
rules that read the same fields, reject at least one of those events and agree on all of them keep
one: a relation of the fields themselves (a sum, an order, a presence) before an implication, then the
shorter rule.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from dana_workflows.objectives.proposal import Proposal
from dana_workflows.objectives.refine import passes
from dana_workflows.workflow.cel_expr import compile_expr

RECOMBINED = 2000
# Which of two equal rules stays: what the fields are to each other before a case split of them.
_KIND_ORDER = (
    "sum",
    "balance",
    "product",
    "rate",
    "rated_sum",
    "order",
    "presence",
    "mapping",
    "bands",
    "implies",
)


def _rank(p: Proposal) -> tuple[int, int]:
    kind = _KIND_ORDER.index(p.kind) if p.kind in _KIND_ORDER else len(_KIND_ORDER)
    return kind, len(p.rule)


def duplicates(
    proposals: Sequence[Proposal], events: Sequence[Mapping[str, Any]], seed: int = 0
) -> list[tuple[Proposal, Proposal]]:
    """(dropped, kept) pairs: rules of two or more fields equal on the sample and its recombinations."""
    groups: dict[frozenset[str], list[Proposal]] = {}
    for p in proposals:
        reads = frozenset(compile_expr(p.rule).fields_read)
        if len(reads) >= 2:
            groups.setdefault(reads, []).append(p)
    out: list[tuple[Proposal, Proposal]] = []
    for reads, group in groups.items():
        if len(group) < 2:
            continue
        names = sorted(reads)
        rng = random.Random(seed)
        columns = {n: [e.get(n) for e in events] for n in names}
        trial = [{n: e.get(n) for n in names} for e in events]
        trial += [{n: rng.choice(columns[n]) for n in names} for _ in range(RECOMBINED if events else 0)]
        verdicts = {id(p): tuple(passes(compile_expr(p.rule), e) for e in trial) for p in group}
        kept: list[Proposal] = []
        for p in sorted(group, key=_rank):
            v = verdicts[id(p)]
            twin = next((k for k in kept if verdicts[id(k)] == v and not all(v)), None)
            if twin is None:
                kept.append(p)
            else:
                out.append((p, twin))
    return out
