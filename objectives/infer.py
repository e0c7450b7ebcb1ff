"""Inference for one boundary (the workflow's input, or one step's output): profile, check, test, refine.

The order matters and is the contract: a candidate is offered only after it (1) passed the CEL gates
of cel_check, (2) was tested on the sample, (3) was refined against the held-out known-good events,
and (4) the offered set as a whole keeps its false alarms on those events within the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.objectives.declared import without_declared_domains
from dana_workflows.objectives.domain_packs import DomainPack, pack_for
from dana_workflows.objectives.duplicates import duplicates
from dana_workflows.objectives.priors import apply_priors
from dana_workflows.objectives.profilers import (
    categories,
    check_digits,
    completeness,
    counters,
    formulas,
    mappings,
    patterns,
    presence,
    ranges,
    relations,
    types,
    uniqueness,
)
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate, Observation, Proposal
from dana_workflows.objectives.refine import failing, refine
from dana_workflows.objectives.sample import Sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

# One rule per field says what its values are; the most specific wins (a domain says more than a
# pattern, a pattern more than "not empty", a domain of whole numbers more than their range).
_VALUE_KINDS = ("domain", "pattern", "nonempty")
# What a running number is not offered (objectives/profilers/counters.py): a learned shape or a
# "not empty"; its format is the counter's own (counters.counter_format).
_COUNTER_FREE = frozenset({"pattern", "nonempty", "types"})


@dataclass(slots=True)
class Boundary:
    target: str
    fields: dict[str, FieldIR]
    sample: Sample
    holdout: Sample


@dataclass(slots=True)
class Refused:
    id: str
    rule: str
    why: str
    profile: str


@dataclass(slots=True)
class BoundaryResult:
    target: str
    proposals: list[Proposal] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    holdout_size: int = 0
    false_alarms: int = 0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.holdout_size if self.holdout_size else 0.0


def columns_of(fields: Mapping[str, FieldIR], events: Sequence[Mapping[str, Any]]) -> list[Column]:
    return [Column(f, [e.get(name) for e in events]) for name, f in fields.items()]


def candidates(
    cols: Sequence[Column], pack: DomainPack | None, settings: InferenceSettings
) -> list[Candidate]:
    return mappings.profile(cols, profiled(cols, pack, settings), settings)


def profiled(cols: Sequence[Column], pack: DomainPack | None, settings: InferenceSettings) -> list[Candidate]:
    """Every profiler's candidates, before tables and bands stand in place of their fields' lists."""
    out: list[Candidate] = []
    for col in cols:
        found = (
            completeness.profile(col, settings)
            + types.profile(col, settings)
            + ranges.profile(col, settings)
            + categories.profile(col, settings)
            + check_digits.profile(col, settings)
        )
        if counters.running_number(col, settings):
            # a counter's format is its prefix and padding; its other errors lie across events
            found = [c for c in found if c.kind not in _COUNTER_FREE]
            found += [c for c in [counters.counter_format(col, settings)] if c is not None]
        elif not any(c.kind == "pattern" for c in found):
            found += patterns.profile(col, settings)
        out += _one_value_rule(apply_priors(col, pack, found))
    related = formulas.beside(relations.profile(cols, settings), cols, settings)
    return out + presence.profile(cols, related, settings)


def _one_value_rule(found: list[Candidate]) -> list[Candidate]:
    kinds = {c.kind for c in found}
    best = next((k for k in _VALUE_KINDS if k in kinds), None)
    keep = [c for c in found if c.kind not in _VALUE_KINDS or c.kind == best]
    if "domain" in kinds:
        keep = [c for c in keep if c.kind not in ("range", "min")]
    if kinds & {"domain", "pattern", "range", "min"}:
        keep = [c for c in keep if c.kind != "present" or not _rejects_null(c, keep)]
    return keep


def _rejects_null(present: Candidate, keep: list[Candidate]) -> bool:
    """A value rule written without a null guard already refuses null: `x != null` would repeat it."""
    return any(c is not present and "== null" not in c.rule for c in keep if c.fields == present.fields)


def infer_boundary(
    boundary: Boundary,
    pack: DomainPack | None,
    settings: InferenceSettings,
    extra: Sequence[Candidate] = (),
) -> BoundaryResult:
    result = BoundaryResult(boundary.target, holdout_size=len(boundary.holdout))
    if pack is None:
        # without a domain, the priors every domain shares (a latitude within +-90, an ISO currency)
        pack = pack_for(None)
    cols = columns_of(boundary.fields, boundary.sample.events)
    by_name = {c.name: c for c in cols}
    for col in cols:
        if uniqueness.unique(col, settings):
            result.observations.append(
                Observation(boundary.target, col.name, "unique", f"all {len(col.present)} values distinct")
            )
        if counters.running_number(col, settings):
            result.observations.append(
                Observation(
                    boundary.target,
                    col.name,
                    "running number",
                    "a counter's values (one prefix, digits in a narrow window): duplicates and gaps"
                    " lie across events, which no per-event rule sees",
                )
            )
    seen: set[str] = set()
    found = without_declared_domains(profiled(cols, pack, settings), boundary.fields)
    offered = mappings.profile(cols, found, settings)
    # a table or bands stand in place of their field's list of values; refused (a held-out event broke
    # a cut), the list is offered after all, or the field would be left with no rule on its values
    kept = {id(c) for c in offered}
    lists = {c.fields[0]: c for c in found if c.kind == "domain" and c.fields and id(c) not in kept}
    for cand in [*offered, *extra]:
        if cand.rule in seen:
            continue
        seen.add(cand.rule)
        proposal = _offer(cand, by_name, boundary, settings, result)
        if proposal is None and cand.kind in ("mapping", "bands") and cand.fields[-1] in lists:
            cand = lists.pop(cand.fields[-1])
            seen.add(cand.rule)
            proposal = _offer(cand, by_name, boundary, settings, result)
        if proposal is None and cand.kind == "presence" and cand.refine.get("parts"):
            # a premise's fields grouped as one rule: one good event breaking one part drops that part
            # only, as it did before the grouping; the group's refusal is said by the part it broke
            result.refused = [r for r in result.refused if r.rule != cand.rule]
            for part in cand.refine["parts"]:
                seen.add(part.rule)
                accepted = _offer(part, by_name, boundary, settings, result)
                if accepted is not None:
                    result.proposals.append(accepted)
            continue
        if proposal is not None:
            result.proposals.append(proposal)
    _interval_dates_by_order(result, by_name)
    _derived_totals_without_range(result)
    _one_finding_once(result, boundary.sample.events)
    _keep_within_budget(result, boundary, settings)
    return result


ISO_DATE_FORMAT = patterns.KNOWN_FORMATS[0][1]


def _derived_totals_without_range(result: BoundaryResult) -> None:
    """A product the offered set derives from its factors (a bill of nights times a rate) gets no range
    of its own: its range is the factors' ranges multiplied, and a data range on it only adds false
    alarms at its edges (a long stay at a high rate is a large bill, not a wrong one); a wrong total
    breaks the product. Not so for a sum: which of net, tax and gross is the input the algebra does
    not say (a payslip's gross is the input, an invoice's gross the result), so each keeps its range."""
    derived = {p.fields[-1] for p in result.proposals if p.kind in ("product", "rate", "rated_sum")}
    for p in list(result.proposals):
        if p.kind == "range" and p.fields and p.fields[0] in derived:
            result.proposals.remove(p)
            result.observations.append(
                Observation(result.target, p.fields[0], "derived", f"set by a relation: {p.rule} not offered")
            )


def _one_finding_once(result: BoundaryResult, events: Sequence[Mapping[str, Any]]) -> None:
    """Two rules that say one thing within the sample's values are offered once (objectives/duplicates.py)."""
    for dropped, kept in duplicates(result.proposals, events):
        result.proposals.remove(dropped)
        result.observations.append(
            Observation(
                result.target,
                dropped.fields[0] if dropped.fields else "",
                "same finding",
                f"{dropped.rule} says what {kept.rule} says on every recombination of the sample",
            )
        )


def _interval_dates_by_order(result: BoundaryResult, cols: Mapping[str, Column]) -> None:
    """Two dates of one event that are ordered are an interval (a stay, a leave, a trade and its
    settlement): the offered order is the interval's rule, and a format rule on each end beside it
    is said once per date instead of once per interval. A date that stands alone keeps its format."""
    ends = {
        name
        for p in result.proposals
        if p.profile == "relation"
        and len(p.fields) == 2
        and all(relations.orderable(cols[f]) == "date" for f in p.fields if f in cols)
        and all(f in cols for f in p.fields)
        for name in p.fields
    }
    for p in list(result.proposals):
        if p.fields and p.fields[0] in ends and len(p.fields) == 1 and ISO_DATE_FORMAT in p.rule:
            result.proposals.remove(p)
            result.observations.append(
                Observation(
                    result.target, p.fields[0], "interval end", f"ordered ISO dates: {p.rule} not offered"
                )
            )


def _offer(
    cand: Candidate,
    cols: Mapping[str, Column],
    boundary: Boundary,
    settings: InferenceSettings,
    result: BoundaryResult,
) -> Proposal | None:
    why = check_rule(cand.rule, boundary.fields)
    if why:
        result.refused.append(Refused(cand.id, cand.rule, why.splitlines()[0], cand.profile))
        return None
    sample = boundary.sample
    column = cols.get(cand.fields[0]) if cand.fields else None
    n = max(len(sample), 1)
    if len(failing(cand.rule, sample.events)) / n > settings.max_false_alarm_rate:
        first = refine(cand, column, sample.events, sample.where, settings)
        if first.candidate is None:
            result.refused.append(Refused(cand.id, cand.rule, first.notes[-1], cand.profile))
            return None
        cand = first.candidate
    sample_bad = len(failing(cand.rule, sample.events))
    refined = refine(cand, column, boundary.holdout.events, boundary.holdout.where, settings)
    if refined.candidate is None:
        result.refused.append(Refused(cand.id, cand.rule, refined.notes[-1], cand.profile))
        return None
    final = refined.candidate
    holdout_bad = len(failing(cand.rule, boundary.holdout.events))
    confidence = final.strength * (1.0 - sample_bad / n)
    if confidence < settings.min_confidence:
        result.refused.append(
            Refused(
                cand.id,
                final.rule,
                f"confidence {confidence:.2f} under {settings.min_confidence}",
                cand.profile,
            )
        )
        return None
    return Proposal(
        id=final.id,
        target=boundary.target,
        rule=final.rule,
        message=final.message,
        profile=final.profile,
        fields=final.fields,
        basis=final.basis,
        support=final.support,
        sample_violations=len(failing(final.rule, sample.events)),
        holdout_violations=holdout_bad,
        confidence=confidence,
        notes=refined.notes,
        kind=final.kind,
    )


def _keep_within_budget(result: BoundaryResult, boundary: Boundary, settings: InferenceSettings) -> None:
    """Drop the noisiest rules until the set's false alarms on held-out good events fit the budget."""
    events = boundary.holdout.events
    while True:
        flagged = {i for p in result.proposals for i in failing(p.rule, events)}
        result.false_alarms = len(flagged)
        if not events or len(flagged) / len(events) <= settings.max_false_alarm_rate:
            return
        worst = max(result.proposals, key=lambda p: len(failing(p.rule, events)))
        result.proposals.remove(worst)
        result.refused.append(
            Refused(worst.id, worst.rule, "dropped to keep false alarms within budget", worst.profile)
        )
