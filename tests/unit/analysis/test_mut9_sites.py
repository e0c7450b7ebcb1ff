"""Every CEL expression of a workflow as a site (analysis/sites.py): its key (the dotted path validate
prints), its role, and the typed fields it sees there, in spec order, the objective's constraints last."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.sites import sites
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: w
input: {amount: double, note: string}
objective: {constraints: [{id: c, rule: "decision == 'big' || amount < 10.0"}]}
steps:
  - t: {transform: {set: {note: "trim(note)", x: {expr: "amount * 2.0", type: long}}}}
  - v: {validate: [{id: a, rule: "x > 0"}]}
  - r:
      as: decision
      route:
        big: {when: "amount > 100.0", steps: [{inner: {validate: [{id: b, rule: "decision == 'big'"}]}}]}
        rest: "true"
  - a: {llm: {prompt: p, output: {risk: string}, when: "amount > 1.0"}}
  - b: {llm: {prompt: p, output: {more: string}}}
"""


def test_every_site_in_spec_order_with_its_role_and_fields() -> None:
    found = [(s.key, s.role, s.expr, sorted(s.fields)) for s in sites(parse_spec(SPEC))]
    base = ["amount", "note"]
    assert found == [
        # a transform's typed entries come first, then the untyped ones (the order the IR keeps them in)
        ("steps[0].t.transform.set.x", "set", "amount * 2.0", base),
        ("steps[0].t.transform.set.note", "set", "trim(note)", base),
        ("steps[1].v.validate[0].rule", "rule", "x > 0", [*base, "x"]),
        ("steps[2].r.route.big", "condition", "amount > 100.0", [*base, "x"]),
        (
            "steps[2].r.route.big.steps[0].inner.validate[0].rule",
            "rule",
            "decision == 'big'",
            ["amount", "decision", "note", "x"],
        ),
        ("steps[2].r.route.rest", "condition", "true", [*base, "x"]),
        ("steps[3].a.llm.when", "when", "amount > 1.0", ["amount", "decision", "note", "x"]),
        (
            "objective.constraints[0].rule",
            "constraint",
            "decision == 'big' || amount < 10.0",
            ["amount", "decision", "more", "note", "risk", "x"],
        ),
    ]


def test_a_set_site_knows_the_field_it_stores_into() -> None:
    by_key = {s.key: s for s in sites(parse_spec(SPEC))}
    note = by_key["steps[0].t.transform.set.note"].target
    x = by_key["steps[0].t.transform.set.x"].target
    assert note is not None and (note.name, note.type) == ("note", "string")  # the existing field
    assert x is not None and (x.name, x.type) == ("x", "long")  # the declared type of a new one
    assert by_key["steps[1].v.validate[0].rule"].target is None
