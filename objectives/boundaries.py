"""Where rules can stand, with the sample's values there: the input, and each step's output.

Transform steps' derived fields are computed from the sample with the spec's own expressions; an llm
step's output fields come from the sample rows that carry them (e.g. the `.out.jsonl` of an earlier
run): a sample without them gives that step no proposals, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dana_workflows.objectives.infer import Boundary
from dana_workflows.objectives.proposal import INPUT_TARGET, step_target
from dana_workflows.objectives.sample import Event, Sample
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, RouteStepIR, StepIR, TransformStepIR, WorkflowIR


def boundaries(ir: WorkflowIR, sample: Sample, holdout: Sample) -> tuple[list[Boundary], list[str]]:
    """The boundaries to infer at, and a note for each step the sample cannot speak for."""
    inputs = {f.name: f for f in ir.input}
    notes: list[str] = []
    if sample.outputs or holdout.outputs:
        # An output record's payload holds a field as the steps left it (`currency` upper-cased by
        # normalize): a rule learned from it at the input would refuse the raw values the steps fix
        for name, path in written_by_steps(ir.steps).items():
            if inputs.pop(name, None) is not None:
                notes.append(
                    f"input field '{name}': the sample's output records hold it as step '{path}' set it, so "
                    "no input rule is inferred for it (infer from input events for one)"
                )
    out = [Boundary(INPUT_TARGET, inputs, sample, holdout)]
    runs = (_after_steps(ir.steps, sample), _after_steps(ir.steps, holdout))
    for path, step in walk_steps(ir.steps):
        fields: list[FieldIR] = []
        if isinstance(step, LLMStepIR):
            fields = list(step.output)
        elif isinstance(step, TransformStepIR):
            fields = [FieldIR(name=d.field, type=d.type) for d in step.derive]
        if not fields:
            continue
        names = [f.name for f in fields]
        parts = [_carrying(sample, runs[0], names), _carrying(holdout, runs[1], names)]
        if not parts[0].events:
            notes.append(f"step '{path}': no sample event carries its outputs ({', '.join(names)})")
            continue
        out.append(Boundary(step_target(path), {f.name: f for f in fields}, parts[0], parts[1]))
    return out, notes


def walk_steps(steps: Sequence[StepIR], prefix: str = "") -> list[tuple[str, StepIR]]:
    """Every step with its dotted path, branches included, in order."""
    out: list[tuple[str, StepIR]] = []
    for step in steps:
        path = f"{prefix}{step.name}"
        out.append((path, step))
        if isinstance(step, RouteStepIR):
            for b in step.branches:
                out += walk_steps(b.steps, f"{path}.{b.name}.")
    return out


def written_by_steps(steps: Sequence[StepIR]) -> dict[str, str]:
    """Each field a transform sets (derived or a function's output), with the path of the first step that
    sets it."""
    written: dict[str, str] = {}
    for path, step in walk_steps(steps):
        if isinstance(step, TransformStepIR):
            for name in [d.field for d in step.derive] + [f.name for f in step.function_outputs]:
                written.setdefault(name, path)
    return written


def _after_steps(steps: Sequence[StepIR], sample: Sample) -> list[Event]:
    """The sample's events as the steps leave them: output records already are (a transform applied
    again would move a field it rewrites twice, `grams / 1000.0` of grams already divided), input
    events go through the top-level transforms."""
    if sample.outputs:
        return [dict(e) for e in sample.events]
    return _through(steps, sample.events)


def _through(steps: Sequence[StepIR], events: Sequence[Event]) -> list[Event]:
    """The events after the top-level transforms: derived fields computed, renames and drops applied."""
    out = [dict(e) for e in events]
    for step in steps:
        if not isinstance(step, TransformStepIR):
            continue
        compiled = [(d.field, compile_expr(d.expr)) for d in step.derive]
        for ev in out:
            values: dict[str, Any] = {}
            for name, expr in compiled:
                try:
                    values[name] = expr.evaluate(ev)
                except EvaluationError:
                    values[name] = None
            ev.update(values)
            for old, new in step.rename.items():
                if old in ev:
                    ev[new] = ev.pop(old)
    return out


def _carrying(source: Sample, events: list[Event], names: list[str]) -> Sample:
    part = Sample(source.path, [])
    for i, ev in enumerate(events):
        if all(ev.get(n) is not None for n in names):
            part.events.append(ev)
            part.lines.append(source.lines[i])
    return part
