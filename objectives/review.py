"""The user's side of the lock file: re-inference merged in without touching reviewed choices, and the
verbs accept, reject, pin and edit. One rule of the house: re-inference never changes a rule the user
edited or pinned; a different proposal for an accepted or rejected rule waits as a pending change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.objectives.proposal import Proposal
from dana_workflows.workflow.ir import FieldIR, RouteStepIR, StepIR, ValidateStepIR, WorkflowIR
from dana_workflows.workflow.objectives_lock import LockedRule, ObjectivesLock, PendingChange, rule_hash


class ReviewError(ValueError):
    """A verb that cannot be done: unknown rule, ambiguous id, an edit that is not a valid rule."""


@dataclass(frozen=True, slots=True)
class Change:
    sign: str  # "+" new, "~" changed, "=" kept (reviewed), "?" no longer proposed
    target: str
    id: str
    old: str
    new: str
    why: str


def merge_proposals(lock: ObjectivesLock, proposals: Sequence[Proposal]) -> list[Change]:
    """Fold a fresh inference into `lock` (in place); the changes, as a diff to review."""
    changes: list[Change] = []
    offered = {(p.target, p.id) for p in proposals}
    for p in proposals:
        existing = lock.find(p.target, p.id)
        evidence = p.evidence()
        if existing is None:
            lock.rules.append(
                LockedRule(
                    id=p.id,
                    target=p.target,
                    rule=p.rule,
                    message=p.message,
                    origin="inferred",
                    status="proposed",
                    hash=rule_hash(p.target, p.rule),
                    evidence=evidence,
                )
            )
            changes.append(Change("+", p.target, p.id, "", p.rule, "new proposal"))
            continue
        if existing.origin == "edited" or existing.status == "pinned":
            if existing.rule != p.rule:
                why = "edited by you" if existing.origin == "edited" else "pinned"
                changes.append(Change("=", p.target, p.id, existing.rule, p.rule, f"kept: {why}"))
            continue
        if existing.rule == p.rule:
            existing.evidence = evidence
            existing.pending = None
            continue
        if existing.status == "proposed":
            old = existing.rule
            _set_rule(existing, p.rule, p.message)
            existing.evidence = evidence
            changes.append(Change("~", p.target, p.id, old, p.rule, "proposal changed"))
        else:
            existing.pending = PendingChange(rule=p.rule, message=p.message, evidence=evidence)
            changes.append(
                Change("~", p.target, p.id, existing.rule, p.rule, f"pending: still {existing.status}")
            )
    for r in lock.rules:
        if r.origin == "inferred" and r.status == "proposed" and (r.target, r.id) not in offered:
            changes.append(Change("?", r.target, r.id, r.rule, "", "no longer proposed by the sample"))
    return changes


def _set_rule(r: LockedRule, rule: str, message: str) -> None:
    r.rule = rule
    r.message = message or r.message
    r.version += 1
    r.hash = rule_hash(r.target, r.rule, r.severity)


def pick(lock: ObjectivesLock, ids: Sequence[str], everything: bool = False) -> list[LockedRule]:
    """Rules named `id` or `target:id`; every inferred rule with `everything`."""
    if everything:
        return [r for r in lock.rules if r.origin != "written"]
    out = []
    for name in ids:
        target, _, rid = name.rpartition("/") if "/" in name else ("", "", name)
        found = [r for r in lock.rules if r.id == rid and (not target or r.target == target)]
        if not found:
            known = ", ".join(sorted({r.id for r in lock.rules})) or "none"
            raise ReviewError(f"no rule '{name}' in the lock file (rules: {known})")
        if len(found) > 1:
            targets = ", ".join(f"{r.target}/{r.id}" for r in found)
            raise ReviewError(f"'{name}' names several rules; say which: {targets}")
        out.append(found[0])
    return out


def accept(rules: Sequence[LockedRule]) -> None:
    for r in rules:
        if r.pending is not None:
            _set_rule(r, r.pending.rule, r.pending.message)
            r.evidence = r.pending.evidence
            r.pending = None
        if r.status != "pinned":
            r.status = "accepted"


def reject(rules: Sequence[LockedRule]) -> None:
    for r in rules:
        r.status = "rejected"
        r.pending = None


def pin(rules: Sequence[LockedRule]) -> None:
    for r in rules:
        r.status = "pinned"
        r.pending = None


def edit(r: LockedRule, rule: str, fields: Mapping[str, FieldIR], message: str | None = None) -> None:
    """Replace a rule's text with the user's; it must pass the same gates an inferred rule passes."""
    why = check_rule(rule, fields)
    if why:
        raise ReviewError(f"'{rule}' {why.splitlines()[0]}")
    _set_rule(r, rule, message if message is not None else r.message)
    r.origin = "edited"
    r.status = "accepted"
    r.pending = None


def written_rules(ir: WorkflowIR) -> list[tuple[str, str, str]]:
    """(where, id, rule) of every rule the spec itself writes, so a review shows the whole set."""
    out: list[tuple[str, str, str]] = []

    def walk(steps: Sequence[StepIR], prefix: str) -> None:
        for step in steps:
            path = f"{prefix}{step.name}"
            if isinstance(step, ValidateStepIR):
                out.extend((f"step:{path}", r.id, r.expr) for r in step.rules)
            elif isinstance(step, RouteStepIR):
                for b in step.branches:
                    walk(b.steps, f"{path}.{b.name}.")

    walk(ir.steps, "")
    out.extend(("objective", r.id, r.expr) for r in ir.objective.constraints)
    return out
