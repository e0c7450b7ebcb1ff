"""A sample of output records of an earlier run (docs/objectives.md "The sample"): their payload holds a
field as the steps left it, so an input rule is never learned for a field a transform sets.

Found by a newcomer (session 16): inferring the claims example from its `.out.jsonl` offered
`currency in ["EUR", "GBP", "USD"]` at the input, where the raw values (`usd`, ` USD `) are before
normalize upper-cases them; accepted, it refused two thirds of the good claims.
"""

from __future__ import annotations

import json

import pytest

from dana_workflows.objectives.boundaries import boundaries, written_by_steps
from dana_workflows.objectives.proposal import INPUT_TARGET, step_target
from dana_workflows.objectives.sample import parse_sample, split
from dana_workflows.workflow.ir import (
    BranchIR,
    DeriveIR,
    FieldIR,
    RouteStepIR,
    TransformStepIR,
    WorkflowIR,
)

pytestmark = pytest.mark.unit

INPUT = (FieldIR(name="currency", type="string"), FieldIR(name="amount", type="double"))
NORMALIZE = TransformStepIR(
    name="normalize",
    derive=(
        DeriveIR(field="currency", expr="upper(trim(currency))", type="string"),
        DeriveIR(field="amount_usd", expr="amount * 1.0", type="double"),
    ),
)
WF = WorkflowIR(name="wf", input=INPUT, steps=(NORMALIZE,))


def _output_line(i: int) -> str:
    payload = {"currency": ["EUR", "USD", "GBP"][i % 3], "amount": float(i), "amount_usd": float(i)}
    return json.dumps({"event_id": f"r{i}/out", "run_id": f"r{i}", "payload": payload})


def _input_line(i: int) -> str:
    return json.dumps({"currency": [" usd", "eur", "GBP "][i % 3], "amount": float(i)})


def test_output_records_are_counted_and_the_count_goes_with_both_parts_of_the_split() -> None:
    lines = [_output_line(i) for i in range(9)] + [_input_line(9)]
    sample = parse_sample(lines, INPUT, "s.jsonl")
    assert (len(sample.events), sample.outputs) == (10, 9)
    part, held = split(sample)
    assert (part.outputs, held.outputs) == (9, 9)
    assert parse_sample([_input_line(i) for i in range(3)], INPUT, "i.jsonl").outputs == 0


def test_from_output_records_the_input_does_not_learn_a_field_a_step_sets() -> None:
    sample, held = split(parse_sample([_output_line(i) for i in range(30)], INPUT, "out.jsonl"))
    found, notes = boundaries(WF, sample, held)
    by_target = {b.target: b for b in found}
    assert list(by_target[INPUT_TARGET].fields) == ["amount"]
    assert set(by_target[step_target("normalize")].fields) == {"currency", "amount_usd"}
    assert notes == [
        "input field 'currency': the sample's output records hold it as step 'normalize' set it, so no "
        "input rule is inferred for it (infer from input events for one)"
    ]


def test_only_held_out_output_records_are_enough_to_hold_the_field_back() -> None:
    sample = parse_sample([_input_line(i) for i in range(20)], INPUT, "in.jsonl")
    held = parse_sample([_output_line(i) for i in range(5)], INPUT, "held.jsonl")
    found, _ = boundaries(WF, sample, held)
    assert list(found[0].fields) == ["amount"]


def test_from_input_events_every_input_field_stays() -> None:
    sample, held = split(parse_sample([_input_line(i) for i in range(30)], INPUT, "in.jsonl"))
    found, notes = boundaries(WF, sample, held)
    assert list(found[0].fields) == ["currency", "amount"]
    assert notes == []


def test_written_by_steps_names_the_first_step_that_sets_each_field_branches_included() -> None:
    later = TransformStepIR(
        name="again", derive=(DeriveIR(field="currency", expr="currency", type="string"),)
    )
    fn = TransformStepIR(
        name="enrich", function="m:f", function_outputs=(FieldIR(name="score", type="double"),)
    )
    route = RouteStepIR(name="r", branches=(BranchIR(name="hi", when="true", steps=(fn,)),))
    assert written_by_steps([NORMALIZE, later, route]) == {
        "currency": "normalize",
        "amount_usd": "normalize",
        "score": "r.hi.enrich",
    }
