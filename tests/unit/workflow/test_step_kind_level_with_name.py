"""`validate:` written under the dash instead of under the step's name (one indentation level short) is
read by YAML as a second key of the item: the message said 'each step is a mapping with one key, its name',
with a fix naming the claims example's step over two lines (session 18 newcomer, N7). Now it names the step,
the key and the indentation to fix."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HEAD = "workflow: w\ninput: {dose_mg: double}\nsteps:\n"


def problems(steps: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(HEAD + steps, "t.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


def test_a_kind_level_with_the_name_names_the_step_and_the_indentation() -> None:
    steps = '  - check_order:\n    validate:\n      - {id: positive, rule: "dose_mg > 0.0"}\n'
    assert problems(steps) == [
        (
            4,
            "steps[0]",
            "validate is level with the step's name 'check_order', not inside it",
            "indent validate two more spaces than 'check_order:' (under the name, not under the dash)",
        )
    ]


def test_options_level_with_the_name_are_named_too() -> None:
    steps = '  - check_order:\n    description: x\n    validate: [{id: p, rule: "dose_mg > 0.0"}]\n'
    [(_, _, message, fix)] = problems(steps)
    assert message == "description, validate is level with the step's name 'check_order', not inside it"
    assert "\n" not in fix


def test_the_same_keys_indented_under_the_name_are_valid() -> None:
    steps = '  - check_order:\n      validate:\n        - {id: positive, rule: "dose_mg > 0.0"}\n'
    assert [s.name for s in parse_spec(HEAD + steps, "t.yaml").steps] == ["check_order"]
