"""What a drift monitor emits: a DriftRecord per closed window and monitor, a LateEvent per late event.

Plain dataclasses (hot path); ``to_record()`` gives the flat dict that goes to ``dwf.<wf>.drift`` (Avro,
schema below) and into the audit row's details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from dana_workflows.schemas.canonical import canonical_json

Level = Literal["ok", "warn", "alert"]
ReferenceKind = Literal["windows", "baseline", "building"]


@dataclass(frozen=True, slots=True)
class Mover:
    """A bin that moved: its share in the reference and in the window, and its PSI term."""

    bin: str
    reference_share: float
    window_share: float
    psi: float

    def to_record(self) -> dict[str, Any]:
        return {
            "bin": self.bin,
            "reference_share": self.reference_share,
            "window_share": self.window_share,
            "psi": self.psi,
        }


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DriftRecord:
    workflow: str
    monitor: str  # the monitor's id
    field: str  # the payload field it watches
    feature: str  # categorical | numeric | text
    step: str  # "" for the workflow input, else the step it observes after
    window_start_us: int
    window_end_us: int
    count: int  # events in the window
    psi: float | None  # None while the window is part of the reference being built
    js: float | None
    level: Level
    warn_psi: float
    alert_psi: float
    reference: ReferenceKind
    reference_count: int  # events in the reference (0 while building)
    bins: int  # bins compared (the union of the two sides' keys)
    min_count: int  # fewer events than this on either side: scored, never warn or alert
    below_min_count: bool
    top_movers: tuple[Mover, ...]
    closed_by: Literal["watermark", "flush"]
    warn_js: float | None = None  # set when the monitor declares JS thresholds
    alert_js: float | None = None

    def to_record(self) -> dict[str, Any]:
        """Flat: scalars only, the movers as a canonical JSON array string."""
        return {
            "workflow": self.workflow,
            "monitor": self.monitor,
            "field": self.field,
            "feature": self.feature,
            "step": self.step,
            "window_start_us": self.window_start_us,
            "window_end_us": self.window_end_us,
            "count": self.count,
            "psi": self.psi,
            "js": self.js,
            "level": self.level,
            "warn_psi": self.warn_psi,
            "alert_psi": self.alert_psi,
            "reference": self.reference,
            "reference_count": self.reference_count,
            "bins": self.bins,
            "min_count": self.min_count,
            "below_min_count": self.below_min_count,
            "top_movers": canonical_json([m.to_record() for m in self.top_movers]),
            "closed_by": self.closed_by,
            "warn_js": self.warn_js,
            "alert_js": self.alert_js,
        }

    def summary(self) -> str:
        """One log line: which feature, which window, how far, which bins moved most."""
        where = f"{self.workflow}/{self.monitor} ({self.field})"
        span = f"window {_iso(self.window_start_us)}..{_iso(self.window_end_us)} n={self.count}"
        if self.psi is None or self.js is None:
            return f"drift reference: {where} {span} (building the reference)"
        moved = ", ".join(f"{m.bin} {m.reference_share:.1%}->{m.window_share:.1%}" for m in self.top_movers)
        low = " (too few events to alert)" if self.below_min_count else ""
        score = f"psi={self.psi:.4f} js={self.js:.4f}{low}"
        return f"drift {self.level}: {where} {span} {score}; moved most: {moved}"


@dataclass(frozen=True, slots=True)
class LateEvent:
    """An event that arrived after one or more of its windows closed; it was not counted there."""

    workflow: str
    event_time_us: int
    watermark_us: int
    missed_windows: tuple[int, ...]  # starts of the closed windows it belonged to
    counted_windows: tuple[int, ...]  # starts of its windows still open (hopping), where it did count

    @property
    def lateness_us(self) -> int:
        return self.watermark_us - self.event_time_us

    def to_record(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "event_time_us": self.event_time_us,
            "watermark_us": self.watermark_us,
            "lateness_us": self.lateness_us,
            "missed_windows": canonical_json(list(self.missed_windows)),
            "counted_windows": canonical_json(list(self.counted_windows)),
        }


_NULLABLE_DOUBLE: list[Any] = ["null", "double"]

# The Avro schema of DriftRecord.to_record(), for the `dwf.<workflow>.drift` topic.
DRIFT_RECORD_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "DriftRecord",
    "namespace": "dwf.drift",
    "doc": "One drift monitor's score for one closed window.",
    "fields": [
        {"name": "workflow", "type": "string"},
        {"name": "monitor", "type": "string"},
        {"name": "field", "type": "string"},
        {"name": "feature", "type": "string"},
        {"name": "step", "type": "string"},
        {"name": "window_start_us", "type": "long", "doc": "microseconds since the epoch"},
        {"name": "window_end_us", "type": "long", "doc": "exclusive"},
        {"name": "count", "type": "long"},
        {"name": "psi", "type": _NULLABLE_DOUBLE, "default": None},
        {"name": "js", "type": _NULLABLE_DOUBLE, "default": None},
        {"name": "level", "type": "string"},
        {"name": "warn_psi", "type": "double"},
        {"name": "alert_psi", "type": "double"},
        {"name": "reference", "type": "string"},
        {"name": "reference_count", "type": "long"},
        {"name": "bins", "type": "int"},
        {"name": "min_count", "type": "long"},
        {"name": "below_min_count", "type": "boolean"},
        {"name": "top_movers", "type": "string", "doc": "canonical JSON array of movers"},
        {"name": "closed_by", "type": "string"},
        {"name": "warn_js", "type": _NULLABLE_DOUBLE, "default": None},
        {"name": "alert_js", "type": _NULLABLE_DOUBLE, "default": None},
    ],
}

LATE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "LateEvent",
    "namespace": "dwf.drift",
    "doc": "An event that arrived after its drift window closed.",
    "fields": [
        {"name": "workflow", "type": "string"},
        {"name": "event_time_us", "type": "long"},
        {"name": "watermark_us", "type": "long"},
        {"name": "lateness_us", "type": "long"},
        {"name": "missed_windows", "type": "string"},
        {"name": "counted_windows", "type": "string"},
    ],
}
