"""Two routes may write the same field (docs/spec.md, `as`: a new field or one an earlier route wrote),
also when a transform rewrites that field between them: validate refused it, at `steps[2].second.as`, a
key the user never wrote (session 18, "left, noted"). A route that would overwrite a field no route wrote
is still refused, at the key the user wrote: `as` when written, else the step itself."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

TWO_ROUTES = """\
workflow: two-routes
input: {amount: double, country: string}
steps:
  - first:
      ASroute:
        big: "amount > 100.0"
        small: "true"
  - relabel:
      transform:
        set:
          FIELD: {expr: "FIELD == 'big' ? 'review' : 'ok'", type: string}
  - relabelled:
      validate: [{id: relabelled, rule: "FIELD in ['review', 'ok']"}]
  - second:
      ASroute:
        eu: "country in ['DE', 'FR']"
        other: "true"
  - after:
      validate: [{id: second_branch, rule: "FIELD == 'eu' || FIELD == 'other'"}]
"""


def _two(field: str) -> str:
    written = f"as: {field}\n      " if field != "route" else ""
    return TWO_ROUTES.replace("ASroute", f"{written}route").replace("FIELD", field)


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "r.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


@pytest.mark.parametrize("field", ["route", "decision"])
def test_two_routes_share_a_field_a_transform_rewrites_between_them(field: str) -> None:
    ir = parse_spec(_two(field), "r.yaml")
    assert [s.name for s in ir.steps] == ["first", "relabel", "relabelled", "second", "after"]


@pytest.mark.parametrize("field", ["route", "decision"])
def test_after_the_second_route_the_field_holds_its_branches(field: str) -> None:
    # the relabelled value is gone after `second`: comparing with it is the enum typo check's refusal
    text = _two(field).replace(f"{field} == 'eu' ||", f"{field} == 'review' ||")
    [(_, where, message, _)] = problems(text)
    assert where == "steps[4].after.validate[0].rule"
    assert message.startswith(f"compares '{field}' (the branch taken at route step second) with 'review'")


DERIVED_FIRST = """\
workflow: pre
input: {amount: double, country: string}
steps:
  - label:
      transform:
        set:
          route: {expr: "country", type: string}
  - second:
      route:
        eu: "country in ['DE', 'FR']"
        other: "true"
"""


def test_a_route_without_as_over_a_derived_field_is_refused_at_the_step() -> None:
    assert problems(DERIVED_FIRST) == [
        (
            8,
            "steps[1].second",
            "'route' is already a field here; the route would overwrite it with the branch's name "
            "(a route without `as:` writes to 'route')",
            "name a new field for the branch: as: second_branch",
        )
    ]


def test_a_written_as_over_an_input_field_is_refused_at_as() -> None:
    text = DERIVED_FIRST.replace("      route:\n        eu", "      as: amount\n      route:\n        eu")
    assert problems(text) == [
        (
            9,
            "steps[1].second.as",
            "'amount' is already a field here; the route would overwrite it with the branch's name",
            "name a new field for the branch: as: second_branch",
        )
    ]
