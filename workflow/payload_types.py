"""How the payload's typed fields evolve from step to step.

The Avro schema of each topic is derived from this, and rules are checked against it at compile
time, so a misspelt field is a spec error, not a runtime surprise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from workflow.ir import (
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
)

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
        merged: Fields | None = None
        for branch in step.branches:
            if branch.terminal:
                continue
            b = dict(out)
            for sub in branch.steps:
                b = fields_after(sub, b)
            merged = b if merged is None else {k: v for k, v in merged.items() if k in b and b[k] == v}
        if merged is not None:
            out = merged
    elif isinstance(step, LLMStepIR):
        for f in step.output:
            out[f.name] = f.model_copy(update={"optional": True})
    elif isinstance(step, ValidateStepIR | EnforceStepIR):
        pass
    return out


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
