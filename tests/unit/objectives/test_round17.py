"""Round 17 (docs/objectives.md): which side names a presence equivalence (objectives/profilers/presence.py).

A field set under some values of a category and absent under the others is one rule for both directions;
the two ways of writing it differ only on a category value the sample never showed. The rule: the case
in which the field is set names it (`(status in ["granted", "refused"]) == (decision_date != null)`, a
requirement), unless the field is absent in exactly one case and set in several: that one case is the
exception and names it (`(outlet == "room_service") == (table_no == null)`). Before this round the side
with fewer values named it, on a tie the one with fewer events. The expected rules below follow from
that statement and from how each sample was made."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import presence
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.refine import passes
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _holds(rule: str, event: dict[str, Any]) -> bool:
    return passes(compile_expr(rule), event)


def _made(cases: dict[str, float], set_in: set[str], n: int = 300, seed: int = 17) -> dict[str, list[Any]]:
    """`status` drawn with the given weights; `detail` (a long) set exactly when the status is in set_in."""
    rng = random.Random(seed)
    names, weights = list(cases), list(cases.values())
    status = rng.choices(names, weights, k=n)
    return {"status": status, "detail": [rng.randint(1, 999) if s in set_in else None for s in status]}


def _cols(data: dict[str, list[Any]]) -> list[Column]:
    return [
        Column(FieldIR(name="status", type="string"), data["status"]),
        Column(FieldIR(name="detail", type="long", optional=True), data["detail"]),
    ]


def _rule(data: dict[str, list[Any]]) -> str:
    (eq,) = presence.equivalences(_cols(data), S)
    return eq.rule


def test_two_cases_against_two_the_set_side_names_the_rule_though_it_has_more_events() -> None:
    # a decision date on granted and refused applications, none while pending or withdrawn; the set
    # side has more events (0.7 of them), which the earlier tie-break would have left unnamed
    data = _made({"granted": 0.4, "refused": 0.3, "pending": 0.2, "withdrawn": 0.1}, {"granted", "refused"})
    rule = _rule(data)
    assert rule == '(status in ["granted", "refused"]) == (detail != null)'
    # a status the sample never showed asks for the field's absence: no case seen to need it was that one
    assert _holds(rule, {"status": "appealed", "detail": None})
    assert not _holds(rule, {"status": "appealed", "detail": 5})
    assert not _holds(rule, {"status": "granted", "detail": None})
    assert not _holds(rule, {"status": "pending", "detail": 5})


def test_three_cases_where_the_field_is_set_against_two_where_it_is_not() -> None:
    # a booking fee online, in the app and through a third party; none at the box office or a kiosk:
    # the fewer-values side (two) would have been the absent one
    data = _made(
        {"online": 0.3, "app": 0.2, "third_party": 0.1, "box_office": 0.25, "kiosk": 0.15},
        {"online", "app", "third_party"},
    )
    assert _rule(data) == '(status in ["app", "online", "third_party"]) == (detail != null)'


def test_one_case_against_one_the_set_side_names_the_rule() -> None:
    # a seal number on a pass, none on a fail; the pass side is the larger one
    data = _made({"pass": 0.75, "fail": 0.25}, {"pass"})
    assert _rule(data) == '(status == "pass") == (detail != null)'


def test_absent_in_one_case_and_set_in_several_the_exception_names_the_rule() -> None:
    # a next service date on every outcome but a condemned raft: the one case is the exception
    data = _made({"passed": 0.5, "repaired_passed": 0.3, "condemned": 0.2}, {"passed", "repaired_passed"})
    rule = _rule(data)
    assert rule == '(status == "condemned") == (detail == null)'
    # an outcome the sample never showed falls on the field's usual side: it is set
    assert _holds(rule, {"status": "deferred", "detail": 7})
    assert not _holds(rule, {"status": "deferred", "detail": None})


def test_absent_in_two_cases_and_set_in_one_the_set_side_names_it() -> None:
    data = _made({"released": 0.3, "quarantine": 0.4, "rejected": 0.3}, {"released"})
    assert _rule(data) == '(status == "released") == (detail != null)'


def test_inference_offers_the_equivalence_named_from_the_set_side() -> None:
    data = _made(
        {"granted": 0.4, "refused": 0.3, "pending": 0.2, "withdrawn": 0.1}, {"granted", "refused"}, 400
    )
    fields = {
        "status": FieldIR(name="status", type="string"),
        "detail": FieldIR(name="detail", type="long", optional=True),
    }
    field_list: Sequence[FieldIR] = list(fields.values())
    lines = [json.dumps({k: v[i] for k, v in data.items()}) for i in range(400)]
    sample = parse_sample(lines[:300], field_list, "sample")
    holdout = parse_sample(lines[300:], field_list, "holdout")
    proposals = infer_boundary(Boundary("input", fields, sample, holdout), None, S).proposals
    assert [p.rule for p in proposals if p.kind == "presence"] == [
        '(status in ["granted", "refused"]) == (detail != null)'
    ]
