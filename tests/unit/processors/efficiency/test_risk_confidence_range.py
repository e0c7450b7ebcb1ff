"""A confidence that is not a probability is no confidence (processors/efficiency/risk.py).

The floor (`confidence_floor`, 0 to 1 in the spec) and every threshold (a calibration's confidences) are
probabilities. The real SmolLM2-135M answered `confidence: 100` and `1000`; compared at face value, 100 is
above every floor and threshold, so the event was tiered low and its verification bypassed (NEWCOMER5,
session 19, N5-3). Expected from the contract: such a number raises the tier to medium like a missing
confidence, and is never the reason to bypass."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dana_workflows.processors.efficiency.risk import (
    LOW,
    MEDIUM,
    Assessment,
    RiskAssessor,
    Signals,
    Thresholds,
    decide,
)
from dana_workflows.workflow.efficiency_ir import RiskIR

pytestmark = pytest.mark.unit

ASSESSOR = RiskAssessor(RiskIR(confidence_floor=0.7))
ALWAYS_BYPASS = Thresholds(low=0.0, medium=0.0, source="calibration v1")  # the loosest thresholds there are

out_of_range = st.one_of(
    st.floats(min_value=1.0, exclude_min=True, allow_infinity=True, allow_nan=False),
    st.floats(max_value=0.0, exclude_max=True, allow_infinity=True, allow_nan=False),
    st.just(math.nan),
)


@pytest.mark.parametrize("confidence", [100.0, 1000.0, -0.2, math.nan])
def test_a_confidence_outside_0_to_1_is_medium_with_the_reason(confidence: float) -> None:
    assessment = ASSESSOR.assess({}, Signals(confidence))
    assert assessment.tier == MEDIUM
    assert assessment.reasons == (
        f"medium: the model's confidence {confidence:g} is not a probability (0 to 1)",
    )


@given(out_of_range)
def test_a_confidence_outside_0_to_1_is_never_bypassed(confidence: float) -> None:
    for tier in (LOW, MEDIUM):  # even a low tier (no rule held), even at threshold 0
        decision = decide(Assessment(tier, ()), confidence, ALWAYS_BYPASS)
        assert decision.verify, decision


def test_a_probability_still_bypasses_as_before() -> None:
    assessment = ASSESSOR.assess({}, Signals(0.9))
    assert assessment.tier == LOW and assessment.reasons == ()
    decision = decide(assessment, 0.9, ALWAYS_BYPASS)
    assert not decision.verify and decision.reason == "confidence 0.9 >= threshold 0"
    edge = ASSESSOR.assess({}, Signals(1.0))
    assert edge.tier == LOW and not decide(edge, 1.0, ALWAYS_BYPASS).verify
