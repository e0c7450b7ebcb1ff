"""Mutation pass over session 18's lines of drift/monitor.py: tests for the mutants that survived.

``observe_many`` is "``observe`` of each event in order ... the same state, records and late events" (its
docstring). A worker restarted on a state whose reference froze before the restart reads that reference at
its first event (``_Watch.load``: "a reference frozen before a restart"), whichever of the two calls comes
first; so a restarted monitor whose first call is ``observe_many`` scores its windows against the frozen
reference, as one that starts with ``observe`` does.

A late event reports the watermark it came behind (``LateEvent.watermark_us``; ``lateness_us`` is the
watermark minus the event's time), a watermark of 0 (an event at the epoch) included.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dana_workflows.drift import DriftMonitor, DriftRecord, LateEvent
from dana_workflows.drift.windows import US_PER_S
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

SIZE_S = 100
DRIFT = DriftIR(
    window=WindowIR(kind="tumbling", size_s=SIZE_S, allowed_lateness_s=0),
    monitors=(DriftMonitorIR(id="kind", field="kind", reference_windows=1),),
)


def restarted_state() -> dict[str, Any]:
    """The state of a worker whose first window (the reference, 10 events of 'a') closed and froze."""
    state: dict[str, Any] = {}
    first = DriftMonitor("wf", DRIFT, state, baselines={})
    for i in range(10):
        first.observe({"kind": "a"}, i * US_PER_S)
    closed = first.observe({"kind": "a"}, SIZE_S * US_PER_S)  # closes window 0: the reference freezes
    assert [r.psi for r in closed if isinstance(r, DriftRecord)] == [None]  # it was the reference
    return state


# the second window after the restart: 10 of 'b' (after the 'a' that closed window 0), unlike the reference
SECOND = [({"kind": "b"}, (SIZE_S + 1 + i) * US_PER_S) for i in range(10)]
CLOSING = ({"kind": "b"}, 2 * SIZE_S * US_PER_S)


def scored(items: list[DriftRecord | LateEvent]) -> list[DriftRecord]:
    return [r for r in items if isinstance(r, DriftRecord)]


def test_a_restarted_monitor_scores_against_the_frozen_reference_from_its_first_run() -> None:
    state = restarted_state()
    one = DriftMonitor("wf", DRIFT, copy.deepcopy(state), baselines={})
    expected = [r for values, t in [*SECOND, CLOSING] for r in scored(one.observe(values, t))]
    many = DriftMonitor("wf", DRIFT, copy.deepcopy(state), baselines={})
    got = [r for _, items in many.observe_many([*SECOND, CLOSING]) for r in scored(items)]

    (record,) = got
    assert record.window_start_us == SIZE_S * US_PER_S
    assert record.reference_count == 10  # the frozen reference: window 0's 10 events
    # mostly 'b', against a reference of 'a' only: scored far past the alert threshold (few events: level ok)
    assert record.psi is not None and record.psi >= record.alert_psi
    assert got == expected


def test_a_late_event_behind_a_watermark_at_the_epoch_reports_that_watermark() -> None:
    monitor = DriftMonitor("wf", DRIFT, {}, baselines={})
    monitor.observe({"kind": "a"}, 0)  # the watermark: 0, the epoch
    (late,) = [x for x in monitor.observe({"kind": "a"}, -150 * US_PER_S) if isinstance(x, LateEvent)]
    assert late.watermark_us == 0
    assert late.lateness_us == 150 * US_PER_S
