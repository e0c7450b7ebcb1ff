"""What the spec itself already says, set against inference: a "known-good" sample its own rules reject,
and a list of values a field's enum declaration already gives.

Inference learns from a sample the user calls known-good. When the spec's own rules reject some of its
events, the rules learned from it take those events' values as good (an empty prescriber offered as one
of the prescriber's values): said once, with the count and the rules, found by running the spec's rules
on the sample's events with the CEL library (analysis.trace), as `dana-wf run` would before the rules
inference adds. A domain `x in [...]` of an enum field repeats the declaration, which ingest enforces
already: not offered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from dana_workflows.analysis.trace import compiled, trace
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.sample import Sample
from dana_workflows.workflow.ir import (
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    RuleIR,
    StepIR,
    ValidateStepIR,
    WorkflowIR,
)


def rejected_by_the_spec(ir: WorkflowIR, sample: Sample) -> str | None:
    """One note when the spec's own rules reject some of the sample's events, else None.

    Output records of an earlier run (sample.outputs) passed the steps already, and running the
    transforms again on them would move a field they rewrite: not checked. A rule reading an llm step's
    answer is not counted (the sample has no answer: the trace holds it null)."""
    if sample.outputs or not sample.events:
        return None
    rules: dict[str, RuleIR] = {}
    answers: set[str] = set()
    _walk(ir.steps, "steps", rules, answers)
    rules.update({f"objective.constraints[{j}].rule": r for j, r in enumerate(ir.objective.constraints)})
    counted = {key: r for key, r in rules.items() if not set(compiled(r.expr).fields_read) & answers}
    failed: Counter[str] = Counter()
    for event in sample.events:
        t = trace(ir, event)
        rule = counted.get(t.at) if t.outcome == "rejected" else None
        if rule is not None:
            failed[rule.id] += 1
    if not failed:
        return None
    ids = ", ".join(rule_id for rule_id, _ in failed.most_common())
    return (
        f"{failed.total()} of {len(sample.events)} sample events fail the spec's own rules ({ids}): "
        "is the sample known-good?"
    )


def _walk(steps: Sequence[StepIR], prefix: str, rules: dict[str, RuleIR], answers: set[str]) -> None:
    """Each validate rule by the key analysis.trace names it with; the llm steps' output fields."""
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}].{step.name}"
        if isinstance(step, ValidateStepIR):
            rules.update({f"{path}.validate[{j}].rule": r for j, r in enumerate(step.rules)})
        elif isinstance(step, RouteStepIR):
            for b in step.branches:
                _walk(b.steps, f"{path}.route.{b.name}.steps", rules, answers)
        elif isinstance(step, LLMStepIR):
            answers.update(f.name for f in step.output)


def without_declared_domains(found: list[Candidate], fields: Mapping[str, FieldIR]) -> list[Candidate]:
    """The candidates less each list of values an enum field's declaration already gives (the same list,
    or a wider one the sample did not fill: the declaration, not the sample, says what may come)."""
    return [c for c in found if not _repeats_enum(c, fields)]


def _repeats_enum(c: Candidate, fields: Mapping[str, FieldIR]) -> bool:
    declared = fields.get(c.fields[0]) if c.kind == "domain" and len(c.fields) == 1 else None
    values = c.refine.get("values")
    return (
        declared is not None
        and bool(declared.symbols)
        and values is not None
        and set(values) <= set(declared.symbols)
    )
