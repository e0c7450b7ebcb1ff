"""Mutation pass over session 18's lines of workflow/spec_support.py: a test for the mutant that survived.

A field type in quotes that is a whole list, `channel: "[web, branch]"`, is an enum written as one string:
its fix says how to write the enum. A type that only starts or only ends with a bracket (`array[string]`,
`[string`) is no list: its fix is the usual one, naming the types there are.
"""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import AVRO_PRIMITIVES
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def fix_for(field_type: str) -> str:
    steps = "steps:\n  - c: {validate: [{id: r, rule: 'true'}]}\n"
    text = f"workflow: w\ninput:\n  tags: {field_type}\n{steps}"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "w.yaml")
    [problem] = caught.value.problems
    assert problem.field == "input.tags" and problem.message.startswith("unknown type")
    return problem.fix


@pytest.mark.parametrize("field_type", ['"array[string]"', '"[string"', "string]"])
def test_a_type_with_one_bracket_is_not_taken_for_an_enum(field_type: str) -> None:
    fix = fix_for(field_type)
    assert "enum" not in fix
    assert all(primitive in fix for primitive in AVRO_PRIMITIVES)


def test_a_whole_list_in_quotes_is_taken_for_an_enum() -> None:
    assert "enum(web, branch)" in fix_for('"[web, branch]"')
