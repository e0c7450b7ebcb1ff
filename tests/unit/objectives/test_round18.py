"""Round 18 (docs/objectives.md): an implication whose premise is a flag is offered though it concludes a
value (objectives/profilers/relations.py `_on_flag`).

Since round 9 an implication is offered only when it concludes that a field is set, unless the setting
`value_implications` is on. Round 18 keeps one kind of value implication with the setting off: the
premise is that a boolean field is true (`!dg_on_board || notoc_issued`), found as before (seen often
enough, the conclusion failing elsewhere, beyond chance). A premise on a category's values, a threshold
or an order of two fields still needs the setting. The expected rules follow from that statement and
from how each sample was made."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def _flags(n: int = 300, seed: int = 18) -> dict[str, list[Any]]:
    """`dg_on_board` on about a third of the flights; `notoc_issued` on every one of those and on about a
    fifth of the others (a captain's habit), so it fails often where the premise does not hold."""
    rng = random.Random(seed)
    dg = [rng.random() < 0.33 for _ in range(n)]
    notoc = [d or rng.random() < 0.2 for d in dg]
    return {"dg_on_board": dg, "notoc_issued": notoc}


def _rules(cols: list[Column], settings: InferenceSettings = S) -> list[str]:
    return [c.rule for c in relations.implications(cols, settings)]


def test_a_flag_premise_concluding_a_flag_is_offered_with_value_implications_off() -> None:
    data = _flags()
    cols = [Column(FieldIR(name=k, type="boolean"), v) for k, v in data.items()]
    assert not S.value_implications
    assert _rules(cols) == ["!dg_on_board || notoc_issued"]


def test_a_category_premise_concluding_the_same_flag_is_still_left_to_the_setting() -> None:
    # the same finding with the premise a category's value: offered only with value_implications on
    data = _flags()
    cargo = [
        "dangerous" if d else random.Random(i).choice(["general", "mail"])
        for i, d in enumerate(data["dg_on_board"])
    ]
    cols = [
        Column(FieldIR(name="cargo", type="string"), cargo),
        Column(FieldIR(name="notoc_issued", type="boolean"), data["notoc_issued"]),
    ]
    assert _rules(cols) == []
    on = InferenceSettings(value_implications=True)
    assert _rules(cols, on) == ['cargo != "dangerous" || notoc_issued']


def test_an_order_premise_concluding_a_flag_is_still_left_to_the_setting() -> None:
    # an order of two numbers is made a boolean column internally (`a_le_b`): it is no flag field
    rng = random.Random(7)
    a = [rng.randint(0, 100) for _ in range(300)]
    b = [rng.randint(0, 100) for _ in range(300)]
    late = [x > y or rng.random() < 0.2 for x, y in zip(a, b, strict=True)]
    cols = [
        Column(FieldIR(name="done_min", type="long"), a),
        Column(FieldIR(name="due_min", type="long"), b),
        Column(FieldIR(name="late", type="boolean"), late),
    ]
    assert _rules(cols) == []
    on = InferenceSettings(value_implications=True)
    assert any(r.endswith("|| late") and "done_min" in r and "due_min" in r for r in _rules(cols, on))


def test_a_flag_premise_the_conclusion_breaks_once_is_not_offered() -> None:
    data = _flags()
    first = data["dg_on_board"].index(True)
    data["notoc_issued"][first] = False
    cols = [Column(FieldIR(name=k, type="boolean"), v) for k, v in data.items()]
    assert _rules(cols) == []


def test_the_flag_implication_reaches_the_proposals_through_infer_boundary() -> None:
    data = _flags(400)
    field_list = [FieldIR(name=k, type="boolean") for k in data]
    fields = {f.name: f for f in field_list}
    lines = [json.dumps({k: v[i] for k, v in data.items()}) for i in range(400)]
    sample = parse_sample(lines[:300], field_list, "sample")
    holdout = parse_sample(lines[300:], field_list, "holdout")
    proposals = infer_boundary(Boundary("input", fields, sample, holdout), None, S).proposals
    assert "!dg_on_board || notoc_issued" in [p.rule for p in proposals]


def test_a_flags_presence_as_the_premise_is_still_left_to_the_setting() -> None:
    # `checked` on every event where the optional flag `insured` is set, true or false, and on a fifth
    # of the others: the premise is the flag's presence, not the flag, so it needs the setting
    rng = random.Random(3)
    insured = [rng.choice([True, False]) if rng.random() < 0.5 else None for _ in range(300)]
    checked = [x is not None or rng.random() < 0.2 for x in insured]
    cols = [
        Column(FieldIR(name="insured", type="boolean", optional=True), insured),
        Column(FieldIR(name="checked", type="boolean"), checked),
    ]
    assert _rules(cols) == []
    on = InferenceSettings(value_implications=True)
    assert _rules(cols, on) == ["insured == null || checked"]
