"""A table or bands stand in place of their category's list of values; refused on the held-out events,
the list is offered after all (a field with a closed set of labels is not left without a rule)."""

from __future__ import annotations

import json
import random

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.refine import failing
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

FIELDS = [FieldIR(name="cvss_score", type="double"), FieldIR(name="severity", type="string")]


def severity(score: float) -> str:
    """FIRST CVSS v3.1 qualitative rating: 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical."""
    return "low" if score < 4.0 else "medium" if score < 7.0 else "high" if score < 9.0 else "critical"


def events(rng: random.Random, n: int, gap: bool) -> list[str]:
    out = []
    while len(out) < n:
        score = round(rng.uniform(0.1, 10.0), 1)
        if not (gap and 2.9 < score < 5.1):  # the sample never shows 3.0-5.0: its cut lands at 5.0
            out.append(json.dumps({"cvss_score": score, "severity": severity(score)}))
    return out


def test_bands_a_held_out_event_breaks_give_back_the_list_of_labels() -> None:
    rng = random.Random(5)
    sample = parse_sample(events(rng, 300, gap=True), FIELDS, "sample")
    holdout = parse_sample(events(rng, 150, gap=False), FIELDS, "holdout")
    result = infer_boundary(
        Boundary("input", {f.name: f for f in FIELDS}, sample, holdout), None, InferenceSettings()
    )
    assert any(r.id == "severity_by_cvss_score_bands" for r in result.refused)  # 4.2 is medium, not low
    rules = [p.rule for p in result.proposals]
    unknown = {"cvss_score": 5.0, "severity": "urgent"}  # no CVSS rating
    assert any(failing(rule, [unknown]) for rule in rules)
    assert not any(failing(rule, holdout.events) for rule in rules)
