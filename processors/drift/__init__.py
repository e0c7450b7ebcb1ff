"""Context drift: windowed distributions of monitored fields, scored against a reference.

Pure components the runtimes call: a DriftMonitor per workflow (state in a mapping they give it),
the metrics, the window arithmetic, and the pinned-baseline file.
"""

from processors.drift.baseline import (
    Baseline,
    BaselineBuilder,
    MonitorBaseline,
    read_baseline,
    write_baseline,
)
from processors.drift.metrics import js_distance, psi
from processors.drift.monitor import DriftMonitor
from processors.drift.records import DRIFT_RECORD_SCHEMA, LATE_EVENT_SCHEMA, DriftRecord, LateEvent, Mover
from processors.drift.windows import WindowDefinition, WindowTracker, event_time_us

__all__ = [
    "DRIFT_RECORD_SCHEMA",
    "LATE_EVENT_SCHEMA",
    "Baseline",
    "BaselineBuilder",
    "DriftMonitor",
    "DriftRecord",
    "LateEvent",
    "MonitorBaseline",
    "Mover",
    "WindowDefinition",
    "WindowTracker",
    "event_time_us",
    "js_distance",
    "psi",
    "read_baseline",
    "write_baseline",
]
