"""The risk assessor: tiers from declared rules and signals; high risk is never bypassed (property test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.processors.efficiency.novelty import NoveltyCheck, NoveltyError
from dana_workflows.processors.efficiency.risk import (
    HIGH,
    LOW,
    MEDIUM,
    Assessment,
    RiskAssessor,
    Signals,
    Thresholds,
    decide,
)
from dana_workflows.workflow.efficiency_ir import NoveltyIR, RiskIR

pytestmark = pytest.mark.unit

RISK = RiskIR(high=["amount > 5000.0", "risk == 'high'"], medium=["tier == 'gold'"], confidence_floor=0.7)

events = st.fixed_dictionaries(
    {
        "amount": st.floats(min_value=0.0, max_value=20_000.0, allow_nan=False),
        "risk": st.sampled_from(["low", "medium", "high"]),
        "tier": st.sampled_from(["standard", "gold"]),
    }
)
confidences = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
thresholds = st.builds(
    Thresholds,
    low=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0, allow_nan=False)),
    medium=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0, allow_nan=False)),
)


@settings(max_examples=400, deadline=None)
@given(
    event=events, confidence=confidences, th=thresholds, anomalies=st.lists(st.text(max_size=5), max_size=2)
)
def test_high_risk_is_never_bypassed(
    event: dict[str, Any], confidence: float | None, th: Thresholds, anomalies: list[str]
) -> None:
    """Whatever the thresholds (even 0: bypass everything), an event a high rule holds for is verified."""
    assessment = RiskAssessor(RISK).assess(event, Signals(confidence, tuple(anomalies)))
    declared_high = event["amount"] > 5000.0 or event["risk"] == "high"
    assert (assessment.tier == HIGH) == declared_high
    decision = decide(assessment, confidence, th)
    if declared_high:
        assert decision.verify and decision.tier == HIGH
    # and the audited inputs say what decided it
    assert decision.audit()["confidence"] == confidence
    assert decision.audit()["tier"] == assessment.tier


def test_tiers_follow_the_declared_rules_and_signals() -> None:
    a = RiskAssessor(RISK)
    calm = {"amount": 10.0, "risk": "low", "tier": "standard"}
    assert a.assess(calm, Signals(0.9)).tier == LOW
    assert a.assess({**calm, "tier": "gold"}, Signals(0.9)).tier == MEDIUM
    assert a.assess(calm, Signals(0.69)).tier == MEDIUM  # under the confidence floor
    assert a.assess(calm, Signals(None)).tier == MEDIUM  # no confidence: not evidence of safety
    assert a.assess(calm, Signals(0.9, ("rule x failed (warn)",))).tier == MEDIUM
    assert a.assess({**calm, "amount": 5000.5}, Signals(0.99)).tier == HIGH
    ignoring = RiskAssessor(RiskIR(anomalies="ignore"))
    assert ignoring.assess(calm, Signals(0.9, ("odd",))).tier == LOW
    raising = RiskAssessor(RiskIR(anomalies="high"))
    assert raising.assess(calm, Signals(0.9, ("odd",))).tier == HIGH


def test_a_high_rule_that_cannot_be_evaluated_counts_as_high() -> None:
    assessment = RiskAssessor(RISK).assess({"risk": "low", "tier": "standard"}, Signals(0.9))  # no amount
    assert assessment.tier == HIGH and "could not be evaluated" in assessment.reasons[0]


def test_bypass_needs_a_threshold_and_a_confidence_at_or_above_it() -> None:
    low = Assessment(LOW, ())
    th = Thresholds(low=0.8, medium=None)
    assert not decide(low, 0.8, th).verify
    assert decide(low, 0.79, th).verify
    assert decide(low, None, th).verify
    assert decide(Assessment(MEDIUM, ()), 0.99, th).verify  # no medium threshold: always verified
    assert not decide(Assessment(MEDIUM, ()), 0.99, Thresholds(low=0.8, medium=0.95)).verify


def _baseline(tmp_path: Path) -> Path:
    data = {
        "format": "dana-wf-drift-baseline",
        "version": 1,
        "monitors": {
            "mix": {
                "field": "currency",
                "feature": "categorical",
                "count": 100,
                "counts": {"USD": 98, "EUR": 2},
            },
            "amt": {
                "field": "amount",
                "feature": "numeric",
                "count": 10,
                "counts": {"1": 10},
                "edges": [0.0, 100.0],
            },
            "words": {"field": "text", "feature": "text", "count": 1, "counts": {}},
        },
    }
    path = tmp_path / "base.json"
    path.write_text(json.dumps(data))
    return path


def test_novelty_against_a_drift_baseline(tmp_path: Path) -> None:
    base = _baseline(tmp_path)
    cat = NoveltyCheck.load(
        NoveltyIR(field="currency", baseline=base.name, monitor="mix", min_share=0.05), tmp_path
    )
    assert cat.novel({"currency": "USD"}) is None
    assert "never seen" in (cat.novel({"currency": "JPY"}) or "")
    assert "of the baseline" in (cat.novel({"currency": "EUR"}) or "")  # 2% < 5%
    num = NoveltyCheck.load(NoveltyIR(field="amount", baseline=str(base), monitor="amt"), None)
    assert num.novel({"amount": 50.0}) is None
    assert num.novel({"amount": 500.0}) is not None  # a bin the baseline never filled
    a = RiskAssessor(RiskIR(novelty=(NoveltyIR(field="currency", baseline=str(base), monitor="mix"),)))
    assert a.assess({"currency": "JPY"}, Signals(0.9)).tier == MEDIUM
    assert a.assess({"currency": "USD"}, Signals(0.9)).tier == LOW


@pytest.mark.parametrize(
    ("monitor", "content", "says"),
    [
        ("mix", None, "cannot read"),
        ("nope", "ok", "has no monitor"),
        ("words", "ok", "use a categorical"),
        ("mix", "{}", "not a drift baseline"),
    ],
)
def test_novelty_baselines_that_cannot_be_used_say_why(
    tmp_path: Path, monitor: str, content: str | None, says: str
) -> None:
    path = _baseline(tmp_path) if content == "ok" else tmp_path / "x.json"
    if content not in (None, "ok"):
        path.write_text(content)
    with pytest.raises(NoveltyError, match=says):
        NoveltyCheck.load(NoveltyIR(field="f", baseline=str(path), monitor=monitor), None)
