"""The risk assessor: a tier per event and step from declared rules, and the verify-or-bypass decision.

Tiers come only from what the spec declares (``efficiency.risk``) and from signals the step observed
(the model's confidence, anomalies, novelty). A high tier is never bypassed: ``decide`` has no path
that returns a bypass for it, whatever the thresholds say (tests/unit/processors/efficiency/
test_risk_property.py proves it over generated events). Every decision carries the inputs that made
it, and the step audits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dana_workflows.processors.efficiency.novelty import NoveltyCheck
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.efficiency_ir import RiskIR

LOW, MEDIUM, HIGH = "low", "medium", "high"
TIER_ORDER = {LOW: 0, MEDIUM: 1, HIGH: 2}
BYPASSABLE_TIERS = (LOW, MEDIUM)


@dataclass(frozen=True, slots=True)
class Signals:
    """What the step observed about this event besides its fields."""

    confidence: float | None = None
    anomalies: tuple[str, ...] = ()  # e.g. "rule has_description failed (warn)", "model: input not ok"


@dataclass(frozen=True, slots=True)
class Assessment:
    tier: str
    reasons: tuple[str, ...]  # why this tier, one line each (empty for a plain low)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Minimum model confidence to bypass verification, per bypassable tier; None: never bypass."""

    low: float | None = 0.0
    medium: float | None = None
    source: str = "default"  # "default" or "calibration v<N>"

    def for_tier(self, tier: str) -> float | None:
        return self.low if tier == LOW else self.medium if tier == MEDIUM else None


@dataclass(frozen=True, slots=True)
class BypassDecision:
    verify: bool
    tier: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def audit(self) -> dict[str, Any]:
        return {"verify": self.verify, "tier": self.tier, "reason": self.reason, **self.inputs}


def not_a_probability(confidence: float | None) -> str | None:
    """Why a reported confidence cannot be compared with a floor or a threshold (both 0 to 1: the spec's
    `confidence_floor`, a calibration's), else None. A small model writes percents (100) or anything
    (1000); taken at face value such a number passes every threshold and bypasses verification."""
    if confidence is None:
        return "the model gave no confidence"
    if not 0.0 <= confidence <= 1.0:  # NaN fails both comparisons too
        return f"the model's confidence {confidence:g} is not a probability (0 to 1)"
    return None


def _raise(tier: str, to: str) -> str:
    return to if TIER_ORDER[to] > TIER_ORDER[tier] else tier


class RiskAssessor:
    """Compiled once per step from its RiskIR."""

    def __init__(self, risk: RiskIR, *, base_dir: Path | None = None) -> None:
        self.risk = risk
        self._high: list[CompiledExpr] = [compile_expr(e) for e in risk.high]
        self._medium: list[CompiledExpr] = [compile_expr(e) for e in risk.medium]
        self._novelty = [NoveltyCheck.load(n, base_dir) for n in risk.novelty]

    def assess(self, scope: Mapping[str, Any], signals: Signals) -> Assessment:
        tier = LOW
        reasons: list[str] = []
        for expr in self._high:
            hit, why = _holds(expr, scope)
            if (
                hit
            ):  # an error counts as a hit: a high rule that cannot be evaluated is not evidence of safety
                tier = HIGH
                reasons.append(f"high: {why}")
        for expr in self._medium:
            hit, why = _holds(expr, scope)
            if hit:
                tier = _raise(tier, MEDIUM)
                reasons.append(f"medium: {why}")
        floor = self.risk.confidence_floor
        unusable = not_a_probability(signals.confidence)
        if unusable is not None:
            tier = _raise(tier, MEDIUM)
            reasons.append(f"medium: {unusable}")
        elif signals.confidence is not None and signals.confidence < floor:
            tier = _raise(tier, MEDIUM)
            reasons.append(f"medium: confidence {signals.confidence:g} < floor {floor:g}")
        for check in self._novelty:
            novel = check.novel(scope)
            if novel is not None:
                tier = _raise(tier, MEDIUM)
                reasons.append(f"medium: {novel}")
        if signals.anomalies and self.risk.anomalies != "ignore":
            tier = _raise(tier, self.risk.anomalies)
            reasons.extend(f"{self.risk.anomalies}: anomaly: {a}" for a in signals.anomalies)
        return Assessment(tier, tuple(reasons))


def decide(assessment: Assessment, confidence: float | None, thresholds: Thresholds) -> BypassDecision:
    """Verify, or bypass verification; high always verifies."""
    tier = assessment.tier
    inputs: dict[str, Any] = {
        "confidence": confidence,
        "reasons": list(assessment.reasons),
        "thresholds": thresholds.source,
    }
    if tier == HIGH:
        return BypassDecision(True, tier, "high risk is always verified", inputs)
    threshold = thresholds.for_tier(tier)
    inputs["threshold"] = threshold
    if threshold is None:
        return BypassDecision(True, tier, f"no bypass threshold for tier {tier}", inputs)
    if confidence is None:
        return BypassDecision(True, tier, "no confidence to compare with the threshold", inputs)
    unusable = not_a_probability(confidence)
    if unusable is not None:
        return BypassDecision(True, tier, f"{unusable}: not compared with the threshold", inputs)
    if confidence >= threshold:
        return BypassDecision(False, tier, f"confidence {confidence:g} >= threshold {threshold:g}", inputs)
    return BypassDecision(True, tier, f"confidence {confidence:g} < threshold {threshold:g}", inputs)


def _holds(expr: CompiledExpr, scope: Mapping[str, Any]) -> tuple[bool, str]:
    try:
        value = expr.evaluate(scope)
    except EvaluationError as exc:
        return True, f"{expr.source} could not be evaluated ({exc})"
    return value is True, expr.source
