"""Mutation pass over session 17's lines of drift/windows.py: a test for the mutant that survived.

``WindowTracker.from_source(source, arrival_us)`` without ``forwarded`` is a source whose batch ended its
events' journeys (the module's docstring: only the messages of a source that forwarded none of its records
move the idle clock), so its arrival moves the idle clock and a source silent for ``idle_us`` of arrival
time stops holding the windows back. DriftMonitor passes ``forwarded`` itself; this is the tracker's own
default, through its public methods.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.drift.windows import US_PER_S, WindowDefinition, WindowTracker

pytestmark = pytest.mark.unit

SIZE_US = 100 * US_PER_S
IDLE_US = 30 * US_PER_S


def test_an_arrival_not_said_to_be_forwarded_moves_the_idle_clock() -> None:
    tracker = WindowTracker(WindowDefinition.tumbling(SIZE_US), {}, "p|", idle_us=IDLE_US)
    tracker.expect(["in:0", "in:1"], 0)
    tracker.from_source("in:0", 0)
    tracker.place(10 * US_PER_S)  # opens the window [0, 100 s)
    assert tracker.advance(10 * US_PER_S) == []  # in:1 has sent nothing: the windows wait
    # in:0 again, past in:1's idle time of arrival: in:1 stops counting, the window of 0 closes at 100 s
    tracker.from_source("in:0", IDLE_US + 1)
    assert tracker.advance(150 * US_PER_S) == [0]
    assert tracker.watermark == 150 * US_PER_S


def test_a_forwarded_arrival_leaves_the_idle_clock_where_it_was() -> None:
    """The same arrivals said to be forwarded: in:1 is not idle, so nothing closes (the contrast above)."""
    state: dict[str, Any] = {}
    tracker = WindowTracker(WindowDefinition.tumbling(SIZE_US), state, "p|", idle_us=IDLE_US)
    tracker.expect(["in:0", "in:1"], 0)
    tracker.from_source("in:0", 0, forwarded=True)
    tracker.place(10 * US_PER_S)
    tracker.from_source("in:0", IDLE_US + 1, forwarded=True)
    assert tracker.advance(150 * US_PER_S) == []
    assert tracker.open_windows() == [0]
