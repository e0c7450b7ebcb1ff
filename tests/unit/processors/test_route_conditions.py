"""A route branch is taken only when its condition is exactly `true`.

CEL is typed: a condition that evaluates to a string, a number or a list is not a truth value, and a
branch must not be taken because Python would call that value truthy. Such an event falls through to
the next branch, or is rejected with "no branch condition held" (docs/spec.md, route).
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.processors.base import OutcomeKind
from dana_workflows.processors.route import RouteProcessor
from dana_workflows.workflow.ir import BranchIR, RouteStepIR
from tests.unit.processors.test_processors import ctx, env

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("when", "payload"),
    [
        ("label", {"label": "yes"}),  # a non-empty string
        ("count", {"count": 1}),  # a non-zero int
        ("ratio", {"ratio": 0.5}),  # a non-zero double
        ("tags", {"tags": ["a"]}),  # a non-empty list
        ("label + ''", {"label": "x"}),  # a computed string
    ],
)
async def test_a_truthy_value_that_is_not_true_takes_no_branch(when: str, payload: dict[str, Any]) -> None:
    step = RouteStepIR(name="triage", branches=(BranchIR(name="fast", when=when),))
    out = await RouteProcessor(step).process(env(**payload), ctx())
    assert out.kind is OutcomeKind.REJECT
    assert [r.rule_id for r in out.rule_results] == ["triage.no_branch"]
    assert "route" not in out.envelope.payload


async def test_a_non_boolean_condition_falls_through_to_the_next_branch() -> None:
    step = RouteStepIR(
        name="triage",
        branches=(BranchIR(name="fast", when="label"), BranchIR(name="slow", when="label == 'yes'")),
    )
    out = await RouteProcessor(step).process(env(label="yes"), ctx())
    assert out.kind is OutcomeKind.ROUTE and out.branch == "slow"
    assert out.envelope.payload["route"] == "slow" and out.envelope.provenance["route"] == "slow"


async def test_false_is_not_taken_and_true_is() -> None:
    step = RouteStepIR(
        name="triage",
        branches=(BranchIR(name="never", when="flag"), BranchIR(name="always", when="!flag")),
    )
    out = await RouteProcessor(step).process(env(flag=False), ctx())
    assert out.branch == "always"
