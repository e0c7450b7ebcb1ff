"""`dose_mg = 0.0` (the comparison as Excel and SQL write it) got only the parser's 'token recognition error
at: '= '', where `and` gets "CEL writes 'and' as '&&'" (session 18 newcomer, N5)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.cel_hints import python_habits
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HINT = "CEL writes the comparison '=' as '=='"


@pytest.mark.parametrize("expr", ["dose_mg = 0.0", "drug='warfarin' || x > 1", "a =b"])
def test_a_lone_equals_gets_the_hint(expr: str) -> None:
    assert python_habits(expr) == [HINT]


@pytest.mark.parametrize("expr", ["a == b", "a != b", "a <= b", "a >= b", "name == 'x = y'", "a > b"])
def test_cel_comparisons_and_text_get_none(expr: str) -> None:
    assert python_habits(expr) == []


def test_validate_names_it_in_the_rule_problem() -> None:
    text = "workflow: w\ninput: {x: double}\nsteps:\n  - c: {validate: [{id: r, rule: 'x = 1.0'}]}"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "w.yaml")
    [problem] = caught.value.problems
    assert problem.message.startswith(f"not a valid CEL expression: {HINT} (parser: ")
