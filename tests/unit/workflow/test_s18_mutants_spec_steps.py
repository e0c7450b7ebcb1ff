"""Mutation pass over session 18's lines of workflow/spec_steps.py: tests for the mutants that survived.

A step item that is not a mapping is a problem of the spec (SpecError), never a crash: "each step is a
mapping with one key, its name", with the fix ``- name: {validate: [...]}`` naming the item when it is a bare
name (``- check_order``), else a placeholder step name (``_not_one_key``).

An item with more than one key is read as "the kind written level with the name" only when "the name's own
value [is] empty" and a later key is a step kind or option. Two steps, each with its body, under one dash are
two steps in one item: each step is a mapping with one key, and no key is said to be level with a name.
"""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HEAD = "workflow: w\ninput: {dose_mg: double}\nsteps:\n"


def problem_of(item: str) -> tuple[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(f"{HEAD}  - {item}\n", "t.yaml")
    [problem] = [p for p in info.value.problems if p.field == "steps[0]"]
    return problem.message, problem.fix


@pytest.mark.parametrize("item", ["5", "[check_order, validate]", "3.5", "true"])
def test_an_item_that_is_not_a_mapping_nor_text_is_a_problem_not_a_crash(item: str) -> None:
    message, fix = problem_of(item)
    assert message == "each step is a mapping with one key, its name"
    assert fix.endswith(": {validate: [...]}") and fix.startswith("- ")


def test_a_bare_name_is_the_step_the_fix_names() -> None:
    assert problem_of("check_order")[1] == "- check_order: {validate: [...]}"


def test_text_that_is_not_a_name_is_not_offered_as_one() -> None:
    """`- check the order`: not a step name (not an identifier), so the fix does not write it as one."""
    message, fix = problem_of("check the order")
    assert message == "each step is a mapping with one key, its name"
    assert "check the order" not in fix


RULES = '[{id: small, rule: "dose_mg < 9.0"}]'


@pytest.mark.parametrize("second", [f"check_b: {{validate: {RULES}}}", f"validate: {RULES}"])
def test_a_second_key_after_a_name_with_a_body_is_not_level_with_it(second: str) -> None:
    message, fix = problem_of(f"check_a: {{validate: {RULES}}}\n    {second}")
    assert message == "each step is a mapping with one key, its name"
    assert fix == "- check_a: {validate: [...]}"


def test_an_empty_name_then_another_step_is_not_a_kind_level_with_it() -> None:
    """`- check_a:` (empty) then `check_b: {...}`: check_b is neither a step kind nor an option."""
    message, _ = problem_of(f"check_a:\n    check_b: {{validate: {RULES}}}")
    assert message == "each step is a mapping with one key, its name"


def test_an_option_level_with_an_empty_name_is_named() -> None:
    message, _ = problem_of("check_a:\n    description: checks the dose")
    assert message == "description is level with the step's name 'check_a', not inside it"
