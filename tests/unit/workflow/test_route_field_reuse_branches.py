"""A route may reuse a field an earlier route wrote on the same path (9798c75). A route in one branch is
not earlier than a step in its sibling branch: no event passes both. So a transform's own field in
branch b, written by no route before it on b's path, is still refused when a route in b would overwrite
it, though a route in branch a writes a field of that name (9798c75 accepted it: the set of fields routes
wrote was shared across sibling branches). After the branches join, a field a route wrote in a branch
that joins is a route's field (review of FIXMISC3's item 1)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SIBLINGS = """\
workflow: sib
input: {amount: double}
steps:
  - outer:
      route:
        a:
          when: "amount < 10.0"
          steps:
            - inner_a:
                route: {x: "amount < 5.0", y: "true"}
                as: tier
        b:
          when: "true"
          steps:
            - price:
                transform:
                  set:
                    tier: {expr: "amount > 100.0 ? 'gold' : 'std'", type: string}
            - inner_b:
                route: {p: "tier == 'gold'", q: "true"}
                as: tier
"""


def test_a_route_in_a_sibling_branch_does_not_make_a_transforms_field_a_routes() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(SIBLINGS, "sib.yaml")
    [problem] = caught.value.problems
    assert problem.field == "steps[0].outer.route.b.steps[1].inner_b.as"
    assert problem.message.startswith("'tier' is already a field here")


AFTER_JOIN = """\
workflow: join
input: {amount: double}
steps:
  - outer:
      route:
        a:
          when: "amount < 10.0"
          steps:
            - inner:
                route: {x: "amount < 5.0", y: "true"}
                as: tier
        b: "true"
  - relabel:
      transform:
        set:
          tier: {expr: "tier == 'x' ? 'low' : 'high'", type: string}
  - again:
      route: {low: "tier == 'low'", high: "true"}
      as: tier
"""


def test_after_the_join_a_field_a_branchs_route_wrote_may_be_reused() -> None:
    ir = parse_spec(AFTER_JOIN, "join.yaml")
    assert [s.name for s in ir.steps] == ["outer", "relabel", "again"]
