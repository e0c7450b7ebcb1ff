"""A drift monitor names the field it watches and, optionally, the step after which it watches it
(docs/spec.md, "drift"). A step or field that is not there made the monitor watch nothing, silently: validate
and run said nothing and `drift report` found no records (session 18 newcomer, N3). Both are spec problems
now, with the line and the closest name."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: med-orders
input: {drug: string, dose_mg: double, doses_per_day: long}
steps:
  - compute:
      transform:
        set:
          daily_mg: {expr: "dose_mg * double(doses_per_day)", type: double}
  - triage:
      route:
        review:
          when: "drug == 'warfarin'"
          steps:
            - second_look:
                validate: [{id: positive, rule: "daily_mg > 0.0"}]
        dispense: "true"
drift:
  monitors:
    - {id: drug_mix, field: drug}
    - {id: daily, field: daily_mg, feature: numeric, step: compute}
    - {id: looked, field: daily_mg, feature: numeric, step: triage.review.second_look}
    - {id: routes, field: route, step: triage}
"""


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "m.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


def test_monitors_on_real_steps_and_fields_are_valid() -> None:
    spec = parse_spec(SPEC, "m.yaml")
    assert [m.step for m in spec.drift.monitors] == [None, "compute", "triage.review.second_look", "triage"]


def test_a_misspelt_step_is_refused_with_the_closest_step() -> None:
    text = SPEC.replace("step: compute}", "step: compte}")
    assert problems(text) == [(19, "drift.monitors[1].step", "no step 'compte'", "did you mean 'compute'?")]


def test_a_misspelt_branch_step_is_refused() -> None:
    text = SPEC.replace("triage.review.second_look}", "triage.review.second_lok}")
    [(line, field, message, fix)] = problems(text)
    assert (line, field, message) == (20, "drift.monitors[2].step", "no step 'triage.review.second_lok'")
    assert fix == "did you mean 'triage.review.second_look'?"


def test_a_field_the_step_does_not_have_is_refused() -> None:
    text = SPEC.replace(
        "field: daily_mg, feature: numeric, step: compute",
        "field: daily_mgg, feature: numeric, step: compute",
    )
    assert problems(text) == [
        (
            19,
            "drift.monitors[1].field",
            "'daily_mgg' is not a field after step compute",
            "did you mean 'daily_mg'?",
        )
    ]


def test_an_input_monitor_reads_the_input_fields() -> None:
    # daily_mg is made by compute: watching it on the input watches nothing
    text = SPEC.replace("{id: drug_mix, field: drug}", "{id: drug_mix, field: daily_mg}")
    [(line, field, message, _)] = problems(text)
    assert (line, field, message) == (18, "drift.monitors[0].field", "'daily_mg' is not a field of the input")


def test_a_monitor_after_the_constraints_stage_is_accepted() -> None:
    # with constraints, the pipeline ends in the stage enforce_objective (docs/spec.md "objective"); a monitor
    # there watches the events that passed them, and the runtime observes it under that name
    text = SPEC.replace(
        "steps:\n", 'objective:\n  constraints: [{id: dosed, rule: "daily_mg > 0.0"}]\nsteps:\n', 1
    )
    text += "    - {id: kept, field: daily_mg, feature: numeric, step: enforce_objective}\n"
    monitor = parse_spec(text, "orders.yaml").drift.monitors[-1]
    assert (monitor.step, monitor.field) == ("enforce_objective", "daily_mg")
    misspelt = text.replace(
        "field: daily_mg, feature: numeric, step: enforce",
        "field: daily_mgg, feature: numeric, step: enforce",
    )
    [(_, field, message, _)] = problems(misspelt)
    assert (field, message) == (
        "drift.monitors[4].field",
        "'daily_mgg' is not a field after step enforce_objective",
    )


def test_without_constraints_there_is_no_constraints_stage_to_watch() -> None:
    [(_, field, message, _)] = problems(SPEC + "    - {id: kept, field: daily_mg, step: enforce_objective}\n")
    assert (field, message) == ("drift.monitors[4].step", "no step 'enforce_objective'")
