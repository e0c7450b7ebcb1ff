"""What a worker's llm steps share for efficiency: the mode switch, budgets, coalescing, the monitor
and the calibrations in use. One per LLM client, so one per worker process in both runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dana_workflows.processors.efficiency.budget import BudgetLedger
from dana_workflows.processors.efficiency.calibration import Calibration, current_path, load_calibration
from dana_workflows.processors.efficiency.coalesce import Coalescer
from dana_workflows.processors.efficiency.monitor import EfficiencyMonitor
from dana_workflows.processors.efficiency.risk import Thresholds
from dana_workflows.workflow.efficiency_ir import BudgetIR

UNCALIBRATED = Thresholds(low=0.0, medium=None, source="default (uncalibrated)")


class EfficiencyState:
    def __init__(self, mode: str | None = None, calibration_dir: Path | None = None) -> None:
        self.mode = mode  # set: overrides every step's mode (DWF_LLM_EFFICIENCY)
        self.calibration_dir = calibration_dir
        self.monitor = EfficiencyMonitor()
        self.coalescer: Coalescer[Any] = Coalescer()
        self._ledgers: dict[str, BudgetLedger] = {}
        self._calibrations: dict[str, Calibration | None] = {}

    def ledger(self, name: str, budget: BudgetIR) -> BudgetLedger:
        ledger = self._ledgers.get(name)
        if ledger is None:
            ledger = self._ledgers[name] = BudgetLedger(budget, name)
        return ledger

    def calibration(self, workflow: str, explicit: str | None) -> Calibration | None:
        """The spec's calibration file, else <calibration dir>/<workflow>.json, else none (read once)."""
        if explicit is not None:
            path: Path | None = Path(explicit)
        elif self.calibration_dir is not None:
            path = current_path(self.calibration_dir, workflow)
        else:
            path = None
        key = str(path)
        if key not in self._calibrations:
            if path is None or (explicit is None and not path.exists()):
                self._calibrations[key] = None
            else:
                self._calibrations[key] = load_calibration(path)  # a broken file fails the step loudly
        return self._calibrations[key]

    def thresholds(self, workflow: str, step: str, explicit: str | None) -> Thresholds:
        cal = self.calibration(workflow, explicit)
        return UNCALIBRATED if cal is None else cal.thresholds(step)

    def forget_calibrations(self) -> None:
        """Read the calibration files again at the next event (after a recalibration)."""
        self._calibrations.clear()
