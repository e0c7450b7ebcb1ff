"""Budget ledger and risk assessor edges (processors/efficiency/budget.py, risk.py).

Budget (docs/efficiency.md): a call fits while spend + reservation stays at or under the hourly limit;
spend leaves the window exactly one hour after it was made; settle replaces the estimate with what was
used; the first refusal of an exhaustion alerts, the next ones do not, until a call fits again.
Risk: declared high rules make high (an error counts as a hit), medium rules, a missing confidence, one
under the floor (strictly) or a novelty make at least medium; anomalies raise to the declared tier unless
ignored; high always verifies; a bypass needs a threshold and a confidence at or above it.
"""

from __future__ import annotations

import logging

import pytest

from dana_workflows.processors.efficiency.budget import HOUR_US, BudgetLedger, Refused, Reservation
from dana_workflows.processors.efficiency.risk import Assessment, RiskAssessor, Signals, Thresholds, decide
from dana_workflows.workflow.efficiency_ir import BudgetIR, RiskIR

pytestmark = pytest.mark.unit


def test_a_call_that_reaches_the_limit_exactly_fits() -> None:
    ledger = BudgetLedger(BudgetIR(tokens_per_hour=100), "wf.s")
    assert isinstance(ledger.admit(0, 60, 0.0), Reservation)
    assert isinstance(ledger.admit(1, 40, 0.0), Reservation)
    assert ledger.tokens == 100
    refused = ledger.admit(2, 1, 0.0)
    assert isinstance(refused, Refused)
    assert refused.reason == "budget wf.s: 100 + 1 tokens would pass 100 per hour"


def test_spend_leaves_the_window_exactly_an_hour_later() -> None:
    ledger = BudgetLedger(BudgetIR(tokens_per_hour=100), "b")
    ledger.admit(10, 100, 0.0)
    assert ledger.refusal(10 + HOUR_US - 1, 1, 0.0) is not None
    assert ledger.refusal(10 + HOUR_US, 1, 0.0) is None
    assert ledger.tokens == 0


def test_the_cost_limit_with_its_message() -> None:
    ledger = BudgetLedger(BudgetIR(cost_per_hour=0.5), "b")
    ledger.admit(0, 10, 0.25)
    assert ledger.refusal(0, 10, 0.25) is None
    ledger.admit(0, 10, 0.25)
    assert ledger.refusal(0, 0, 0.000001) == "budget b: $0.500000 + $0.000001 would pass $0.5 per hour"


def test_settle_replaces_the_estimate_with_the_use() -> None:
    ledger = BudgetLedger(BudgetIR(tokens_per_hour=100, cost_per_hour=1.0), "b")
    r = ledger.admit(0, 80, 0.8)
    assert isinstance(r, Reservation)
    r.settle(30, 0.1)
    assert ledger.tokens == 30 and ledger.cost == pytest.approx(0.1)
    assert isinstance(ledger.admit(0, 70, 0.9), Reservation)
    r.settle(0, 0.0)
    assert ledger.tokens == 70
    ledger._expire(HOUR_US)  # the settled entry leaves with what it settled to, not its estimate
    assert ledger.tokens == 0 and ledger.cost == pytest.approx(0.0)


def test_one_alert_per_exhaustion(caplog: pytest.LogCaptureFixture) -> None:
    ledger = BudgetLedger(BudgetIR(tokens_per_hour=10), "b")
    ledger.admit(0, 10, 0.0)
    with caplog.at_level(logging.WARNING):
        first = ledger.admit(1, 5, 0.0)
        second = ledger.admit(2, 5, 0.0)
    assert isinstance(first, Refused) and first.alert is True
    assert isinstance(second, Refused) and second.alert is False
    assert ledger.alerts == 1 and ledger.exhausted
    assert len([r for r in caplog.records if "falling back" in r.getMessage()]) == 1
    assert isinstance(ledger.admit(HOUR_US, 5, 0.0), Reservation) and not ledger.exhausted
    ledger.admit(HOUR_US, 5, 0.0)
    again = ledger.admit(HOUR_US + 1, 5, 0.0)
    assert isinstance(again, Refused) and again.alert is True and ledger.alerts == 2


def test_no_limits_admit_everything() -> None:
    ledger = BudgetLedger(BudgetIR(), "b")
    assert ledger.refusal(0, 10**9, 10**6) is None


# -- risk ------------------------------------------------------------------------------------------------


def test_a_plain_confident_event_is_low_without_reasons() -> None:
    a = RiskAssessor(RiskIR()).assess({}, Signals(confidence=0.9))
    assert a == Assessment("low", ())


def test_the_confidence_floor_is_strict() -> None:
    r = RiskAssessor(RiskIR(confidence_floor=0.6))
    assert r.assess({}, Signals(confidence=0.6)).tier == "low"
    under = r.assess({}, Signals(confidence=0.59))
    assert under == Assessment("medium", ("medium: confidence 0.59 < floor 0.6",))
    assert r.assess({}, Signals()).reasons == ("medium: the model gave no confidence",)


def test_rules_raise_the_tier_and_never_lower_it() -> None:
    r = RiskAssessor(RiskIR(high=("amount > 1000",), medium=("amount > 10", "new_customer")))
    assert r.assess({"amount": 5, "new_customer": False}, Signals(0.9)).tier == "low"
    med = r.assess({"amount": 50, "new_customer": True}, Signals(0.9))
    assert med == Assessment("medium", ("medium: amount > 10", "medium: new_customer"))
    high = r.assess({"amount": 5000, "new_customer": False}, Signals(0.9))
    assert high == Assessment("high", ("high: amount > 1000", "medium: amount > 10"))
    assert r.assess({"amount": 5000, "new_customer": False}, Signals(None)).tier == "high"


def test_a_medium_rule_that_cannot_be_evaluated_counts_as_medium() -> None:
    a = RiskAssessor(RiskIR(medium=("missing > 1",))).assess({}, Signals(0.9))
    assert a.tier == "medium" and a.reasons[0].startswith("medium: missing > 1 could not be evaluated (")


@pytest.mark.parametrize(("setting", "tier"), [("medium", "medium"), ("high", "high"), ("ignore", "low")])
def test_anomalies_raise_to_the_declared_tier(setting: str, tier: str) -> None:
    a = RiskAssessor(RiskIR(anomalies=setting)).assess({}, Signals(0.9, ("rule x failed (warn)",)))  # type: ignore[arg-type]
    assert a.tier == tier
    if setting != "ignore":
        assert a.reasons == (f"{setting}: anomaly: rule x failed (warn)",)
    else:
        assert a.reasons == ()


def test_thresholds_per_tier() -> None:
    t = Thresholds(low=0.1, medium=0.7)
    assert (t.for_tier("low"), t.for_tier("medium"), t.for_tier("high")) == (0.1, 0.7, None)
    assert Thresholds().for_tier("low") == 0.0 and Thresholds().for_tier("medium") is None


def test_decisions_at_the_threshold_and_their_audit() -> None:
    t = Thresholds(low=0.5, medium=0.8, source="calibration v3")
    at = decide(Assessment("low", ()), 0.5, t)
    assert not at.verify and at.reason == "confidence 0.5 >= threshold 0.5"
    assert at.audit() == {
        "verify": False,
        "tier": "low",
        "reason": "confidence 0.5 >= threshold 0.5",
        "confidence": 0.5,
        "reasons": [],
        "thresholds": "calibration v3",
        "threshold": 0.5,
    }
    under = decide(Assessment("medium", ("medium: x",)), 0.79, t)
    assert (
        under.verify
        and under.reason == "confidence 0.79 < threshold 0.8"
        and under.inputs["reasons"] == ["medium: x"]
    )
    assert decide(Assessment("medium", ()), 0.8, t).verify is False
    none = decide(Assessment("low", ()), None, t)
    assert none.verify and none.reason == "no confidence to compare with the threshold"
    closed = decide(Assessment("medium", ()), 1.0, Thresholds())
    assert closed.verify and closed.reason == "no bypass threshold for tier medium"
    high = decide(Assessment("high", ()), 1.0, Thresholds(low=0.0, medium=0.0))
    assert high.verify and high.reason == "high risk is always verified" and "threshold" not in high.inputs
