"""How the payload's typed fields evolve from step to step.

The Avro schema of each topic is derived from this, and rules are checked against it at compile
time, so a misspelt field is a spec error, not a runtime surprise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dana_workflows.workflow.ir import (
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
)
from dana_workflows.workflow.knowledge_fields import knowledge_fields

Fields = dict[str, FieldIR]


def fields_after(step: StepIR, before: Fields) -> Fields:
    """The payload fields after one step (for a route: after its non-terminal branches)."""
    out = dict(before)
    if isinstance(step, TransformStepIR):
        for old, new in step.rename.items():
            if old in out:
                out[new] = out.pop(old).model_copy(update={"name": new})
        for d in step.derive:
            out[d.field] = FieldIR(name=d.field, type=d.type)
        for f in step.function_outputs:
            out[f.name] = f
        for name in step.drop:
            out.pop(name, None)
    elif isinstance(step, RouteStepIR):
        out[step.field] = FieldIR(name=step.field, type="string")
        joining = []
        for branch in step.branches:
            if branch.terminal:
                continue
            b = dict(out)
            for sub in branch.steps:
                b = fields_after(sub, b)
            joining.append(b)
        if joining:
            out = join_branches(joining)
    elif isinstance(step, LLMStepIR):
        for f in step.output:
            out[f.name] = f.model_copy(update={"optional": True})
        for f in knowledge_fields(step):
            out[f.name] = f
    elif isinstance(step, ValidateStepIR | EnforceStepIR):
        pass
    return out


def join_branches(branches: list[Fields]) -> Fields:
    """The fields where a route's branches meet again: the union of what they carry.

    A field only some branches set (an llm step's answer on the review branch) is optional after the
    join, so the answer reaches the steps and topics downstream instead of being cut off by their
    schema. A field the branches give different types has no one type there: it is left out, and the
    spec check names it (branch_type_conflicts).
    """
    joined: Fields = {}
    for name in dict.fromkeys(n for b in branches for n in b):  # first-seen order: a stable schema
        defs = [b[name] for b in branches if name in b]
        if len({d.type for d in defs}) > 1:
            continue
        optional = len(defs) < len(branches) or any(d.optional for d in defs)
        first = defs[0]
        joined[name] = (
            first if first.optional == optional else first.model_copy(update={"optional": optional})
        )
    return joined


def branch_type_conflicts(branches: dict[str, Fields]) -> dict[str, dict[str, str]]:
    """Fields the joining branches give different types: field -> {branch: type}."""
    types: dict[str, dict[str, str]] = {}
    for branch, fields in branches.items():
        for name, f in fields.items():
            types.setdefault(name, {})[branch] = f.type
    return {name: by for name, by in types.items() if len(set(by.values())) > 1}


@dataclass(frozen=True, slots=True)
class StepBoundary:
    """One edge of the topology: the payload fields an envelope carries after `step`."""

    path: str  # dotted step path: "triage" or "triage.review.assess"
    fields: Fields


def walk(steps: tuple[StepIR, ...], start: Fields, prefix: str = "") -> Iterator[tuple[str, StepIR, Fields]]:
    """Every step (branches included) with the fields it receives, in topology order."""
    current = start
    for step in steps:
        path = f"{prefix}{step.name}"
        yield path, step, current
        if isinstance(step, RouteStepIR):
            routed = dict(current)
            routed[step.field] = FieldIR(name=step.field, type="string")
            for branch in step.branches:
                yield from walk(branch.steps, routed, f"{path}.{branch.name}.")
        current = fields_after(step, current)
