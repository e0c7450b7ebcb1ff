"""Context drift: windowed distributions of monitored fields, scored against a reference.

Pure components the runtimes call: a DriftMonitor per workflow (state in a mapping they give it),
the metrics, the window arithmetic, the pinned-baseline file, and the log line of a warn/alert window.
"""

from dana_workflows.drift.alerts import LOG_LEVELS, log_window
from dana_workflows.drift.baseline import (
    Baseline,
    BaselineBuilder,
    MonitorBaseline,
    read_baseline,
    write_baseline,
)
from dana_workflows.drift.divergence import js_distance, psi
from dana_workflows.drift.monitor import DriftMonitor
from dana_workflows.drift.records import DRIFT_RECORD_SCHEMA, LATE_EVENT_SCHEMA, DriftRecord, LateEvent, Mover
from dana_workflows.drift.windows import WindowDefinition, WindowTracker, event_time_us

__all__ = [
    "DRIFT_RECORD_SCHEMA",
    "LATE_EVENT_SCHEMA",
    "LOG_LEVELS",
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
    "log_window",
    "psi",
    "read_baseline",
    "write_baseline",
]
