"""Every CEL expression of a workflow, with the typed fields it sees and where it is written.

A site's key is the dotted path `dana-wf validate` uses in its messages
(`steps[1].check_claim.validate[0].rule`); spec_lines maps the same keys to lines of the YAML file.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Literal

from dana_workflows.workflow.ir import (
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.payload_types import Fields, fields_after

Role = Literal["rule", "condition", "constraint", "set", "when"]


@dataclass(frozen=True, slots=True)
class Site:
    key: str
    role: Role
    expr: str
    fields: Fields  # the payload's typed fields where the expression runs
    target: FieldIR | None = None  # for `set`: the field the result is stored in


def sites(ir: WorkflowIR) -> Iterator[Site]:
    """Every expression in spec order: steps (branches included), then the objective's constraints.
    Within a transform the `set` entries come in the IR's order (typed entries first, then untyped ones):
    every entry reads the event as it came in (docs/spec.md), so their order changes no verdict."""
    fields = {f.name: f for f in ir.input}
    final = yield from _steps(ir.steps, fields, "steps")
    for i, rule in enumerate(ir.objective.constraints):
        yield Site(f"objective.constraints[{i}].rule", "constraint", rule.expr, final)


def _steps(steps: tuple[StepIR, ...], fields: Fields, prefix: str) -> Generator[Site, None, Fields]:
    current = fields
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}].{step.name}"
        if isinstance(step, TransformStepIR):
            for d in step.derive:
                target = current.get(d.field) or FieldIR(name=d.field, type=d.type)
                yield Site(f"{path}.transform.set.{d.field}", "set", d.expr, current, target)
        elif isinstance(step, ValidateStepIR):
            for j, rule in enumerate(step.rules):
                yield Site(f"{path}.validate[{j}].rule", "rule", rule.expr, current)
        elif isinstance(step, RouteStepIR):
            routed = {**current, step.field: FieldIR(name=step.field, type="string")}
            for branch in step.branches:
                yield Site(f"{path}.route.{branch.name}", "condition", branch.when, current)
                yield from _steps(branch.steps, routed, f"{path}.route.{branch.name}.steps")
        elif isinstance(step, LLMStepIR) and step.when:
            yield Site(f"{path}.llm.when", "when", step.when, current)
        current = fields_after(step, current)
    return current
