"""A branch written as a jump to a step (`pharmacist_review: nurse_check`) was answered 'reads 'nurse_check',
which is not a field at this step (fix: use one of: <every field>)': nothing said that a branch's value is its
condition (session 18 newcomer, N7). A bare name that is no field, and close to none, now gets that; a name
close to a field's keeps the field check's did-you-mean."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: w
input: {drug: string, urgent: boolean}
steps:
  - triage:
      route:
        review: BRANCH
        dispense: "true"
"""


def problems(branch: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_spec(SPEC.replace("BRANCH", branch), "w.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


def test_a_name_where_the_condition_goes_says_what_a_branch_holds() -> None:
    assert problems("nurse_check") == [
        (
            4,
            "steps[0].triage.route.review",
            "'nurse_check' is a name, not a condition: a branch's value says when it is taken",
            'review: "true" (or a rule); to run steps on it: review: {when: "true", steps: [...]}',
        )
    ]


def test_a_misspelt_boolean_field_keeps_the_did_you_mean() -> None:
    [(_, _, message, fix)] = problems("urgnt")
    assert message == "reads 'urgnt', which is not a field at this step" and fix == "did you mean 'urgent'?"


@pytest.mark.parametrize("branch", ["urgent", '"true"', "\"drug == 'x'\""])
def test_a_boolean_field_and_conditions_are_valid(branch: str) -> None:
    parse_spec(SPEC.replace("BRANCH", branch), "w.yaml")
