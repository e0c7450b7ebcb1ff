"""Ingest refuses a number outside its field's declared range, like a value of the wrong type."""

from __future__ import annotations

import json

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

IR = parse_spec(
    """\
workflow: loans
input:
  credit_score: {type: long, min: 300, max: 850}
  rate: {type: double, max: 1.0}
steps:
  - check: {validate: [{id: ok, rule: "true"}]}
"""
)


@pytest.mark.parametrize(
    ("event", "accepted", "reason"),
    [
        ({"credit_score": 300, "rate": 1.0}, True, ""),  # bounds are inclusive
        ({"credit_score": 850, "rate": -5.0}, True, ""),  # no min declared for rate
        (
            {"credit_score": 299, "rate": 0.5},
            False,
            "'credit_score' is 299, outside its declared range [300, 850]",
        ),
        ({"credit_score": 851, "rate": 0.5}, False, "'credit_score' is 851"),
        ({"credit_score": 500, "rate": 1.5}, False, "'rate' is 1.5, outside its declared range [, 1]"),
        ({"credit_score": 500, "rate": 1}, True, ""),  # a whole number for a double, in range
    ],
)
def test_declared_range(event: dict[str, object], accepted: bool, reason: str) -> None:
    adm = admit(IR, json.dumps(event), 0, 1)
    assert adm.accepted is accepted
    assert reason in "; ".join(adm.reasons)
