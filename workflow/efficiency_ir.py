"""How an llm step spends model calls: its mode, risk tiers, bypass bound, budget and known answers.

Declared in the spec (``efficiency:`` at the top for the whole workflow, and inside an ``llm:`` step for
that step); docs/efficiency.md explains each setting. Bounds are checked here, so ``dana-wf validate``
refuses a threshold outside 0-1, a budget of 0 or an unknown risk field before anything runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EfficiencyMode = Literal["naive", "optimised"]
EFFICIENCY_MODES: tuple[str, ...] = ("naive", "optimised")
RiskTier = Literal["low", "medium", "high"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoveltyIR(_Model):
    """A field whose value is compared with a pinned drift baseline (dana-wf drift baseline)."""

    field: str
    baseline: str  # path of the baseline file, relative to the spec
    monitor: str  # the monitor of that file that observes the field
    min_share: float = Field(default=0.0, ge=0.0, le=1.0)  # a value seen less often than this is novel


class RiskIR(_Model):
    """Declared rules that put one event of one step into a risk tier (high is never bypassed)."""

    high: tuple[str, ...] = ()  # CEL over the payload and the step's output: any true -> high
    medium: tuple[str, ...] = ()  # any true -> at least medium
    confidence_floor: float = Field(default=0.5, ge=0.0, le=1.0)  # model confidence below -> medium
    novelty: tuple[NoveltyIR, ...] = ()  # a value new against the baseline -> medium
    anomalies: Literal["medium", "high", "ignore"] = (
        "medium"  # a warn rule failed / the model doubts the input
    )


class BypassIR(_Model):
    """The bound a calibrated bypass threshold must keep (dana-wf efficiency calibrate)."""

    error_bound: float = Field(default=0.01, gt=0.0, lt=1.0)  # bypassed answers that are wrong, at most
    confidence_level: float = Field(default=0.95, gt=0.0, lt=1.0)  # of the interval on that error rate
    calibration: str | None = None  # a calibration file; None: <DWF_DATA_DIR>/calibration/<workflow>.json


class BudgetIR(_Model):
    """What a step (or the whole workflow) may spend per hour; then its fallback and an alert."""

    tokens_per_hour: int | None = Field(default=None, gt=0)
    cost_per_hour: float | None = Field(default=None, gt=0.0)  # USD, from the endpoint's price table
    fallback: dict[str, Any] | None = None  # output fields set when spent; None: the step's recovery


class KnownAnswerIR(_Model):
    """An answer settled without a call when its CEL condition holds."""

    when: str
    output: dict[str, Any]


class EfficiencyIR(_Model):
    mode: EfficiencyMode | None = None  # None: the workflow's, else the setting, else optimised
    risk: RiskIR = RiskIR()
    bypass: BypassIR = BypassIR()
    budget: BudgetIR | None = None
    workflow_budget: BudgetIR | None = None  # the workflow's budget, shared by all its llm steps
    known_answers: tuple[KnownAnswerIR, ...] = ()
    decision_fields: tuple[
        str, ...
    ] = ()  # compared to tell a corrected answer; default: the first output field
    confidence_field: str | None = (
        None  # default: an output field named `confidence`, else the model's report
    )
