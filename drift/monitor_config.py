"""One drift monitor's settings, resolved from the IR once, and the value -> bin keys function it uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from dana_workflows.drift.divergence import DEFAULT_EPSILON
from dana_workflows.drift.features import (
    DEFAULT_QUANTILE_BINS,
    HashedTokens,
    LogSketch,
    bin_keyer,
    category_key,
    check_edges,
)
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR

DEFAULT_MAX_CATEGORIES = 1000
TOP_MOVERS = 3

Extractor = Callable[[Any], tuple[str, ...]]
KeyFunction = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    id: str
    field: str
    feature: Literal["categorical", "numeric", "text"]
    step: str | None
    edges: tuple[float, ...] | None  # numeric edges given in the spec
    quantile_bins: int  # numeric without edges: bins cut at reference quantiles
    buckets: int  # text
    warn_psi: float
    alert_psi: float
    warn_js: float | None
    alert_js: float | None
    reference_windows: int
    baseline: str | None
    min_count: int | None  # None: derived from the bin count (metrics.min_events)
    max_categories: int
    eps: float

    @classmethod
    def from_ir(cls, m: DriftMonitorIR) -> MonitorConfig:
        where = f"drift monitor {m.id!r}"
        # Fields the IR may not have yet fall back to defaults (proposed additions to DriftMonitorIR).
        quantile_bins = int(getattr(m, "quantile_bins", DEFAULT_QUANTILE_BINS))
        min_count = getattr(m, "min_count", None)
        max_categories = int(getattr(m, "max_categories", DEFAULT_MAX_CATEGORIES))
        if not 0 < m.warn_psi <= m.alert_psi:
            raise ValueError(
                f"{where}: need 0 < warn_psi <= alert_psi, got warn {m.warn_psi} and alert {m.alert_psi}"
            )
        warn_js, alert_js = m.warn_js, m.alert_js
        given = [t for t in (warn_js, alert_js) if t is not None]  # in order: warn, then alert
        if given and not 0 < given[0] <= given[-1] <= 1:
            raise ValueError(
                f"{where}: need 0 < warn_js <= alert_js <= 1 (a JS distance is at most 1), "
                f"got warn {warn_js} and alert {alert_js}"
            )
        if m.reference_windows < 1:
            raise ValueError(f"{where}: reference_windows must be >= 1, got {m.reference_windows}")
        if m.feature == "text" and m.buckets < 2:
            raise ValueError(f"{where}: text needs at least 2 buckets, got {m.buckets}")
        if m.feature == "numeric" and not m.bins and quantile_bins < 2:
            raise ValueError(f"{where}: quantile_bins must be >= 2, got {quantile_bins}")
        if m.bins and m.feature != "numeric":
            raise ValueError(f"{where}: `bins` are for numeric monitors; this one is {m.feature}")
        return cls(
            id=m.id,
            field=m.field,
            feature=m.feature,
            step=m.step,
            edges=check_edges(m.bins, where) if m.bins else None,
            quantile_bins=quantile_bins,
            buckets=m.buckets,
            warn_psi=m.warn_psi,
            alert_psi=m.alert_psi,
            warn_js=warn_js,
            alert_js=alert_js,
            reference_windows=m.reference_windows,
            baseline=m.baseline,
            min_count=None if min_count is None else int(min_count),
            max_categories=max_categories,
            eps=float(getattr(m, "epsilon", DEFAULT_EPSILON)),
        )


def configs_from_ir(drift: DriftIR) -> tuple[MonitorConfig, ...]:
    seen: set[str] = set()
    out: list[MonitorConfig] = []
    for m in drift.monitors:
        if m.id in seen:
            raise ValueError(f"drift monitor id {m.id!r} is used twice; give each monitor its own id")
        seen.add(m.id)
        out.append(MonitorConfig.from_ir(m))
    return tuple(out)


def make_key(
    cfg: MonitorConfig, sketch: LogSketch, edges: tuple[float, ...] | None = None
) -> KeyFunction | None:
    """value -> the one key it counts in, for the features that give one (None: text, which gives many)."""
    if cfg.feature == "categorical":
        return category_key
    if cfg.feature == "text":
        return None
    fixed = edges if edges is not None else cfg.edges
    if fixed is not None:
        return bin_keyer(fixed)
    return sketch.key


def make_extractor(
    cfg: MonitorConfig, sketch: LogSketch, edges: tuple[float, ...] | None = None
) -> Extractor:
    """value -> the keys it counts in. Numeric without edges counts in the sketch's fine buckets."""
    key = make_key(cfg, sketch, edges)
    if key is None:
        return HashedTokens(cfg.buckets).keys
    return lambda v: (key(v),)
