"""Priors from a domain pack, combined with what the sample shows about the same field.

- a range prior clips the learned range (an `age` learned as [-4, 112] becomes [0, 112]); with too
  few values to learn from, the prior's range stands alone;
- a value list stands where the sample shows no closed domain (a long tail of country codes); a
  closed domain learned from the sample is narrower and wins, if the prior does not contradict it;
- a format replaces a learned shape: "an email address" says more than the shapes of 300 addresses.

A prior the sample contradicts is not offered (and the sample violations are shown in its place).
"""

from __future__ import annotations

from dataclasses import replace

from dana_workflows.objectives.domain_packs import DomainPack, Prior
from dana_workflows.objectives.profilers.categories import domain_rule
from dana_workflows.objectives.profilers.column import Column, guarded, literal, support_factor
from dana_workflows.objectives.profilers.ranges import interval, range_rule
from dana_workflows.objectives.proposal import Candidate


def apply_priors(col: Column, pack: DomainPack | None, found: list[Candidate]) -> list[Candidate]:
    """`found` (this field's learned candidates) with the pack's priors folded in."""
    if pack is None:
        return found
    out = list(found)
    for prior in pack.priors_for(col.name, col.field.type):
        spec = prior.spec
        if spec.range is not None:
            out = _with_range(col, prior, out)
        elif spec.values is not None:
            out = _with_values(col, prior, out)
        elif spec.format is not None:
            out = _with_format(col, prior, out)
    return out


def _source(prior: Prior) -> str:
    return f"pack:{prior.pack}"


def _with_range(col: Column, prior: Prior, found: list[Candidate]) -> list[Candidate]:
    assert prior.spec.range is not None
    p_lo, p_hi = prior.spec.range
    present = [v for v in col.present if isinstance(v, int | float)]
    if present and ((p_lo is not None and min(present) < p_lo) or (p_hi is not None and max(present) > p_hi)):
        return found  # the sample contradicts the prior: the data speaks
    learned = next((c for c in found if c.kind == "range"), None)
    if learned is None:
        if p_lo is None or p_hi is None:
            if p_lo is None:
                return found
            t = col.field.type
            return [*found, _candidate(col, prior, guarded(col, f"{col.name} >= {literal(p_lo, t)}"), "min")]
        rule = range_rule(col, p_lo, p_hi)
        cand = _candidate(col, prior, rule, "range")
        cand.refine = {"lo": float(p_lo), "hi": float(p_hi)}
        return [*found, cand]
    lo, hi = learned.refine["lo"], learned.refine["hi"]
    # A cut inside the bound of a prior that names this field is where this sample's values stopped,
    # not where the field's do: the prior says what the field can be (week 53 exists though a sample
    # of weeks stops at 52; a borrower up to the lending pack's 120). A prior matched by a pattern
    # names a kind of quantity (any `*_age`, any `*_pct`), and its bounds are the kind's: a driver's
    # age from 21 or a seed lot's purity from 97.6% is this field's own edge within them, which the
    # cut shows. A one-sided prior (a count is never negative) says a sign, not an extent.
    names_field = col.name.lower() in (n.lower() for n in prior.spec.names)
    closed = p_lo is not None and p_hi is not None
    found_cuts = learned.refine.get("cuts", [])
    cuts = found_cuts if names_field and closed else []
    new_lo = lo if p_lo is None else p_lo if "low" in cuts else max(lo, p_lo)
    new_hi = hi if p_hi is None else p_hi if "high" in cuts else min(hi, p_hi)
    # a cut the prior does not replace still stands; one it replaced is the prior's bound now, no cut
    # (a parent pack's wider prior, applied next, does not reopen it)
    kept = [side for side in found_cuts if side not in cuts]
    if (new_lo, new_hi) == (lo, hi):
        refined = {k: v for k, v in learned.refine.items() if k != "cuts"} | ({"cuts": kept} if kept else {})
        return [replace(c, refine=refined) if c is learned else c for c in found]
    lo_open = bool(learned.refine.get("lo_open")) and new_lo == lo  # the learned floor still stands
    over_cut = [
        side for side, old, new in (("low", lo, new_lo), ("high", hi, new_hi)) if side in cuts and new != old
    ]
    how = "the cut" + ("s" if len(over_cut) > 1 else "") + " replaced by" if over_cut else "clipped to"
    clipped = Candidate(
        id=learned.id,
        rule=range_rule(col, new_lo, new_hi, lo_open),
        profile=learned.profile,
        fields=learned.fields,
        message=f"{col.name} must lie in {interval(col, new_lo, new_hi, lo_open)}",
        basis=f"{learned.basis}, {how} {prior.spec.why or 'the domain'} ({_source(prior)})",
        strength=learned.strength,
        support=learned.support,
        kind="range",
        refine={"lo": new_lo, "hi": new_hi, "lo_open": lo_open, **({"cuts": kept} if kept else {})},
    )
    return [clipped if c is learned else c for c in found]


def _with_values(col: Column, prior: Prior, found: list[Candidate]) -> list[Candidate]:
    allowed = set(prior.values)
    if any(v not in allowed for v in col.present):
        return found
    if any(c.kind == "domain" for c in found):
        return found
    cand = _candidate(col, prior, domain_rule(col, sorted(allowed)), "domain")
    cand.refine = {"values": sorted(allowed)}
    rest = [c for c in found if c.kind not in ("pattern", "nonempty")]
    return [*rest, cand]


def _with_format(col: Column, prior: Prior, found: list[Candidate]) -> list[Candidate]:
    import re

    regex = prior.spec.format
    assert regex is not None
    if any(not isinstance(v, str) or re.fullmatch(regex, v) is None for v in col.present):
        return found
    if any(c.kind == "domain" for c in found):
        return found
    rule = guarded(col, f"{col.name}.matches({literal(regex, 'string')})")
    rest = [c for c in found if c.kind not in ("pattern", "nonempty")]
    return [*rest, _candidate(col, prior, rule, "pattern")]


def _candidate(col: Column, prior: Prior, rule: str, kind: str) -> Candidate:
    n = len(col.present)
    why = prior.spec.why or "what the domain says"
    return Candidate(
        id=f"{col.name}_{kind}",
        rule=rule,
        profile=_source(prior),
        fields=(col.name,),
        message=f"{col.name} must be {why}",
        basis=f"{col.name} is {why} in the {prior.pack} pack; all {n} sample values agree",
        strength=max(0.9, support_factor(n)),
        support=n,
        kind=kind,
    )
