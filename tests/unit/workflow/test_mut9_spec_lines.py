"""Problems found after parsing name the rule where it is in the file (workflow/spec_lines.py): a rule
dropped from the IR for its own problem does not shift the next rule's index or line; a read of a field
whose declaration was refused says so, at the reading site."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError, SpecProblem
from dana_workflows.workflow.spec import parse_spec
from dana_workflows.workflow.spec_lines import follow_on, refused_field

pytestmark = pytest.mark.unit


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_a_dropped_rule_does_not_shift_the_next_ones_place() -> None:
    text = (
        "workflow: w\ninput: {amount: double}\nsteps:\n"
        "  - v:\n"
        "      validate:\n"
        '        - {id: broken, rule: "amount >"}\n'
        '        - {id: reads, rule: "amout > 1.0"}\n'
    )
    found = problems(text)
    assert found[1] == (7, "steps[0].v.validate[1].rule", "reads 'amout', which is not a field at this step")


def test_a_refused_declaration_is_found_only_in_declaring_sections() -> None:
    declared = SpecProblem("t.yaml", 3, "input.amount", "unknown type 'decimal'", "")
    elsewhere = SpecProblem("t.yaml", 9, "steps[0].v.validate[0].amount", "something", "")
    assert refused_field([elsewhere, declared], "amount") is declared
    assert refused_field([elsewhere], "amount") is None
    assert refused_field([declared], "amoun") is None
    output = SpecProblem("t.yaml", 12, "steps[1].a.llm.output.risk", "unknown type 'x'", "")
    assert refused_field([output], "risk") is None  # `output.` must start the field path


def test_a_follow_on_problem_at_the_reading_site_or_the_declaration() -> None:
    declared = SpecProblem("t.yaml", 3, "input.amount", "unknown type 'decimal'", "")
    at_site = follow_on("t.yaml", 8, "steps[0].v.validate[0].rule", "amount", declared)
    assert at_site == SpecProblem(
        "t.yaml",
        8,
        "steps[0].v.validate[0].rule",
        "reads 'amount', whose declaration was refused (line 3: unknown type 'decimal')",
        "fix input.amount first",
    )
    assert follow_on("t.yaml", 0, "p", "amount", declared).line == 3  # no line of its own: the declaration's
    unlocated = SpecProblem("t.yaml", 0, "input.amount", "bad", "")
    assert follow_on("t.yaml", 0, "p", "amount", unlocated).message == (
        "reads 'amount', whose declaration was refused (input.amount: bad)"
    )
