"""Coalescing and the per-worker efficiency state (processors/efficiency/coalesce.py, state.py).

Coalescing: identical keys in flight at once are sent once and share the answer (and a failure); a key
that is no longer in flight is sent again; a cancelled call cancels its sharers. State: one budget
ledger per name; the calibration in use is the spec's file, else ``<dir>/<workflow>.json``, else none
(always verify), read once until forgotten; an explicit file that is missing fails loudly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dana_workflows.processors.efficiency.calibration import (
    CalibrationError,
    Record,
    calibrate,
    save_calibration,
)
from dana_workflows.processors.efficiency.coalesce import Coalescer
from dana_workflows.processors.efficiency.state import UNCALIBRATED, EfficiencyState
from dana_workflows.workflow.efficiency_ir import BudgetIR

pytestmark = pytest.mark.unit


async def test_identical_keys_in_flight_share_one_call_and_later_ones_call_again() -> None:
    c: Coalescer[int] = Coalescer()
    calls = 0
    gate = asyncio.Event()

    async def call() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    first = asyncio.create_task(c.run("k", call))
    await asyncio.sleep(0)
    second = asyncio.create_task(c.run("k", call))
    other = asyncio.create_task(c.run("other", call))
    await asyncio.sleep(0)
    assert c.in_flight == 2
    gate.set()
    assert await first == (7, False) and await second == (7, True) and await other == (7, False)
    assert calls == 2 and c.coalesced == 1 and c.in_flight == 0
    assert await c.run("k", call) == (7, False) and calls == 3


async def test_a_cancelled_call_cancels_its_sharers_and_leaves_nothing_in_flight() -> None:
    c: Coalescer[int] = Coalescer()
    gate = asyncio.Event()

    async def call() -> int:
        await gate.wait()
        return 1

    first = asyncio.create_task(c.run("k", call))
    await asyncio.sleep(0)
    second = asyncio.create_task(c.run("k", call))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(asyncio.CancelledError):
        await second
    assert c.in_flight == 0


def test_one_ledger_per_budget_name() -> None:
    s = EfficiencyState()
    a = s.ledger("wf.s", BudgetIR(tokens_per_hour=10))
    assert s.ledger("wf.s", BudgetIR(tokens_per_hour=99)) is a and a.budget.tokens_per_hour == 10
    assert s.ledger("wf", BudgetIR(tokens_per_hour=10)) is not a


def _save(directory: Path, version: int) -> None:
    recs = [Record("s", "low", 0.9, True)] * 400
    save_calibration(calibrate("wf", recs, bound=0.01, level=0.95, version=version), directory)


def test_the_calibration_in_use_and_when_it_is_read(tmp_path: Path) -> None:
    assert EfficiencyState().thresholds("wf", "s", None) == UNCALIBRATED
    state = EfficiencyState(calibration_dir=tmp_path)
    assert state.thresholds("wf", "s", None) == UNCALIBRATED  # no file yet: always verify
    _save(tmp_path, 1)
    assert state.thresholds("wf", "s", None) == UNCALIBRATED  # read once, until forgotten
    state.forget_calibrations()
    th = state.thresholds("wf", "s", None)
    assert th.source == "calibration v1" and th.low == 0.9
    other = tmp_path / "other"
    _save(other, 4)
    explicit = state.thresholds("wf", "s", str(other / "wf.json"))
    assert explicit.source == "calibration v4"
    with pytest.raises(CalibrationError, match="cannot read the calibration"):
        EfficiencyState().thresholds("wf", "s", str(tmp_path / "missing.json"))
