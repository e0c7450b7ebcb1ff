"""A step's boundary from a sample of output records: their payload holds each field as the steps left it,
so the step's outputs are read as they are, not computed again. A transform that rewrites a field it reads
(`grams = grams / 1000.0`) applied a second time moved every value by the factor once more, and the rule
learned there (grams near 0.001) would refuse every event the step really makes (grams near 1.0). Input
events still go through the transforms (docs/objectives.md, "The sample")."""

from __future__ import annotations

import json

import pytest

from dana_workflows.objectives.boundaries import boundaries
from dana_workflows.objectives.proposal import step_target
from dana_workflows.objectives.sample import parse_sample, split
from dana_workflows.workflow.ir import DeriveIR, FieldIR, TransformStepIR, WorkflowIR

pytestmark = pytest.mark.unit

INPUT = (FieldIR(name="id", type="string"), FieldIR(name="grams", type="double"))
SCALE = TransformStepIR(name="scale", derive=(DeriveIR(field="grams", expr="grams / 1000.0", type="double"),))
WF = WorkflowIR(name="wf", input=INPUT, steps=(SCALE,))
RAW = [1000.0 + i for i in range(40)]  # what the input events hold


def _step_values(lines: list[str]) -> list[float]:
    sample, holdout = split(parse_sample(lines, INPUT, "s.jsonl", 1))
    found, _ = boundaries(WF, sample, holdout)
    (scale,) = [b for b in found if b.target == step_target("scale")]
    return sorted(e["grams"] for e in [*scale.sample.events, *scale.holdout.events])


def test_output_records_are_read_as_the_step_left_them() -> None:
    lines = [
        json.dumps({"event_id": f"e{i}", "payload": {"id": f"e{i}", "grams": g / 1000.0}})
        for i, g in enumerate(RAW)
    ]
    assert _step_values(lines) == [g / 1000.0 for g in RAW]  # 1.0 .. 1.039, not 0.001 .. 0.001039


def test_input_events_go_through_the_transform() -> None:
    lines = [json.dumps({"id": f"e{i}", "grams": g}) for i, g in enumerate(RAW)]
    assert _step_values(lines) == [g / 1000.0 for g in RAW]
