"""The field a route writes (`route`, or the name in `as:`) holds the name of the branch taken (docs/spec.md,
"route"). A rule or constraint comparing it with a name no branch has never matches, so a safety constraint
with a typo in it is switched off for every event; and a route whose `as:` names a field the event already
has overwrites that value on every event. Both are spec errors (session 18 newcomer, N1 and N4)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

ORDERS = """\
workflow: med-orders
input:
  drug: enum(warfarin, insulin, paracetamol)
  route_of_admin: [oral, iv]
  daily_mg: double
  max_daily_mg: double
objective:
  constraints:
    - id: never_over_max
      rule: "decision != 'dispense' || daily_mg <= max_daily_mg"
steps:
  - triage:
      as: decision
      route:
        pharmacist_review: "drug in ['warfarin', 'insulin']"
        hold: {when: "daily_mg > 10000.0", terminal: true}
        dispense: "true"
  - after:
      validate:
        - {id: decided, rule: "decision in ['pharmacist_review', 'dispense']"}
"""


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "orders.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


def test_the_written_spec_is_valid() -> None:
    spec = parse_spec(ORDERS, "orders.yaml")
    assert [s.name for s in spec.steps] == ["triage", "after"]


def test_a_constraint_comparing_the_route_field_with_a_misspelt_branch_is_refused() -> None:
    text = ORDERS.replace("decision != 'dispense'", "decision != 'dispnse'")
    assert problems(text) == [
        (
            9,
            "objective.constraints[0].rule",
            "compares 'decision' (the branch taken at route step triage) with 'dispnse', which no branch is",
            "'pharmacist_review', 'dispense'",  # the terminal branch never reaches the constraints
        )
    ]


def test_a_rule_after_the_route_comparing_with_a_terminal_branch_is_refused() -> None:
    # a terminal branch ends at its own topic: no event after the route holds its name
    text = ORDERS.replace("decision in ['pharmacist_review', 'dispense']", "decision == 'hold'")
    [(line, field, message, _)] = problems(text)
    assert (line, field) == (20, "steps[1].after.validate[0].rule")
    # 'hold' is a branch: the message says why its name is never seen here, not that no branch has it
    assert message == (
        "compares 'decision' (the branch taken at route step triage) with 'hold', a terminal branch: "
        "its events end at their own topic and never reach this point"
    )


def test_a_constraint_comparing_with_a_terminal_branch_says_it_is_terminal() -> None:
    text = ORDERS.replace("decision != 'dispense'", "decision != 'hold'")
    [(line, field, message, fix)] = problems(text)
    assert (line, field) == (9, "objective.constraints[0].rule")
    assert message.endswith(
        "with 'hold', a terminal branch: its events end at their own topic and never reach this point"
    )
    assert fix == "'pharmacist_review', 'dispense'"


def test_a_rule_inside_a_branch_reads_the_branch_names() -> None:
    text = ORDERS.replace(
        '        dispense: "true"\n',
        '        dispense:\n          when: "true"\n          steps:\n'
        "            - label:\n                validate:\n"
        "                  - {id: mine, rule: \"decision == 'dispens'\"}\n",
    )
    [(_, field, message, fix)] = problems(text)
    assert field == "steps[0].triage.route.dispense.steps[0].label.validate[0].rule"
    assert "'dispens', which no branch is" in message and "'hold'" in fix


def test_a_test_that_a_branch_was_taken_is_not_a_typo() -> None:
    parse_spec(ORDERS.replace("decision != 'dispense'", "decision != ''"), "orders.yaml")


def test_a_field_set_again_after_the_route_is_free_text_again() -> None:
    text = ORDERS.replace(
        "  - after:\n",
        "  - relabel:\n      transform:\n        set: {decision: \"'manual'\"}\n  - after:\n",
    ).replace("decision in ['pharmacist_review', 'dispense']", "decision == 'manual'")
    text = text.replace("decision != 'dispense'", "decision != 'manual'")
    parse_spec(text, "orders.yaml")


def test_as_naming_an_input_field_is_refused() -> None:
    text = ORDERS.replace("as: decision", "as: route_of_admin").replace("decision", "route_of_admin")
    assert problems(text) == [
        (
            13,  # the line of `as:` itself (session 19: the key the user wrote, not the step's name)
            "steps[0].triage.as",
            "'route_of_admin' is already a field here; the route would overwrite it with the branch's name",
            "name a new field for the branch: as: triage_branch",
        )
    ]


def test_a_second_route_may_write_the_first_routes_field() -> None:
    text = ORDERS.replace(
        "  - after:\n",
        "  - second:\n      as: decision\n      route:\n        pharmacist_review: \"drug == 'warfarin'\"\n"
        '        dispense: "true"\n  - after:\n',
    )
    parse_spec(text, "orders.yaml")
