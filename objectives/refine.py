"""Refinement: a rule that rejects a known-good event is widened to admit it, or dropped, and says so.

Ranges widen past the event's value by the tolerance, domains take the value in, a learned or counter's
format widens to the shape of the sample and the event (another head its class of letters, another
length `+`); anything else (a known format, a relation, a prior, a model's rule) is dropped: a rule
that is wrong about a good event is not trusted to be right about the next one. Each change names the
event that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dana_workflows.objectives.profilers import patterns
from dana_workflows.objectives.profilers.categories import domain_rule
from dana_workflows.objectives.profilers.column import Column, guarded, literal, nice_ceil, nice_floor
from dana_workflows.objectives.profilers.ranges import interval, range_rule
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr


def passes(compiled: CompiledExpr, event: Mapping[str, Any]) -> bool:
    """The verdict the runtime gives: a rule that errors on an event rejects it (processors/rules.py)."""
    try:
        return compiled.evaluate(event) is True
    except EvaluationError:
        return False


def failing(rule: str, events: Sequence[Mapping[str, Any]]) -> list[int]:
    compiled = compile_expr(rule)
    return [i for i, e in enumerate(events) if not passes(compiled, e)]


@dataclass(slots=True)
class Refined:
    candidate: Candidate | None  # None: dropped
    notes: list[str]


def refine(
    cand: Candidate,
    column: Column | None,
    good: Sequence[Mapping[str, Any]],
    name_of: Callable[[int], str],
    settings: InferenceSettings,
) -> Refined:
    """Widen `cand` until it admits every event of `good`, or drop it; notes name the events."""
    notes: list[str] = []
    for _ in range(len(good) + 1):
        bad = failing(cand.rule, good)
        if not bad:
            return Refined(cand, notes)
        first = bad[0]
        value = good[first].get(cand.fields[0]) if cand.fields else None
        what = f"{name_of(first)} ({cand.fields[0]}={value!r})" if cand.fields else name_of(first)
        widened = (
            _widen(cand, column, value, settings, what) if column is not None and value is not None else None
        )
        if widened is None:
            notes.append(f"dropped: it rejected the known-good event {what}")
            return Refined(None, notes)
        notes.append(f"widened to admit the known-good event {what}")
        cand = widened
    return Refined(None, [*notes, "dropped: widening did not converge"])  # pragma: no cover - defensive


def _widen(
    cand: Candidate, col: Column, value: Any, settings: InferenceSettings, what: str
) -> Candidate | None:
    # a range, or a count's run of whole numbers (categories.filled_run), widens past the value
    if cand.kind in ("range", "domain") and "lo" in cand.refine and isinstance(value, int | float):
        lo, hi = cand.refine["lo"], cand.refine["hi"]  # a side not widened keeps its value and its type
        lo_open = bool(cand.refine.get("lo_open")) and value > lo  # a good event at the floor closes it
        margin = settings.range_tolerance * max(float(hi - lo), 1.0) / 2
        integer = col.field.type in ("int", "long")
        cuts = list(cand.refine.get("cuts", []))
        # a cut the good event lies past was not one: the basis says so, naming the event
        passed = [side for side in cuts if (value < lo if side == "low" else value > hi)]
        if value < lo:
            lo = nice_floor(value - margin, integer)
            if col.present and min(col.present) >= 0 > lo and value >= 0:
                lo = 0.0
        if value > hi:
            hi = nice_ceil(value + margin, integer)
        refined = {"lo": lo, "hi": hi, "lo_open": lo_open}
        if kept := [side for side in cuts if side not in passed]:
            refined["cuts"] = kept
        widened = _replace(
            cand,
            range_rule(col, lo, hi, lo_open),
            refined,
            f"{col.name} must lie in {interval(col, lo, hi, lo_open)}",
        )
        if passed:
            widened.basis += "".join(
                f"; the {side} cut widened to admit the known-good event {what}" for side in passed
            )
        return widened
    if cand.kind == "domain" and "values" in cand.refine:
        values = sorted({*cand.refine["values"], value})
        return _replace(cand, domain_rule(col, values), {"values": values}, cand.message)
    if cand.kind == "pattern" and cand.refine.get("how") in _LEARNED and isinstance(value, str):
        return _widen_pattern(cand, col, value)
    return None


_LEARNED = ("learned", "counter")  # a known format (an ISO date, an email) is what the value is: not widened


def _widen_pattern(cand: Candidate, col: Column, value: str) -> Candidate | None:
    """A learned or counter's format widened to the shape of the sample and the good events it refused:
    another head becomes its class of letters (`WZ` -> `[A-Z]{2}`), another length of a run `+`
    (`[0-9]{4}` -> `[0-9]+`); a good event of another shape drops the rule (learned_regex: None)."""
    admitted = [*cand.refine.get("admitted", []), value]
    regex = patterns.learned_regex([*(v for v in col.present if isinstance(v, str)), *admitted])
    if regex is None:  # otherwise it covers every value given it, so it admits `value`
        return None
    return _replace(
        cand,
        guarded(col, f"{col.name}.matches({literal(regex, 'string')})"),
        {**cand.refine, "regex": regex, "admitted": admitted},
        f"{col.name} must match {regex}",
    )


def _replace(cand: Candidate, rule: str, refine: dict[str, Any], message: str) -> Candidate:
    return Candidate(
        id=cand.id,
        rule=rule,
        profile=cand.profile,
        fields=cand.fields,
        message=message,
        basis=cand.basis,
        strength=cand.strength,
        support=cand.support,
        kind=cand.kind,
        refine=refine,
    )
