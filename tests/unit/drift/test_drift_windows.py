"""Window assignment, watermark, closing after the allowed lateness, late events reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.drift.windows import WindowDefinition, WindowTracker, event_time_us
from dana_workflows.workflow.ir import WindowIR

pytestmark = pytest.mark.unit


def test_tumbling_assignment_by_event_time() -> None:
    d = WindowDefinition.tumbling(10)
    assert d.starts(0) == (0,)
    assert d.starts(9) == (0,)
    assert d.starts(10) == (10,)  # windows are [start, start + size)
    assert d.starts(-1) == (-10,)  # floor, also before the epoch
    assert d.end(10) == 20


def test_hopping_assignment() -> None:
    d = WindowDefinition.hopping(10, 5)
    assert d.starts(7) == (0, 5)
    assert d.starts(10) == (5, 10)
    assert d.starts(4) == (-5, 0)
    # a size that is not a multiple of the step: starts 0, 3, 6 hold t = 7 (-3 + 10 = 7 does not)
    assert WindowDefinition.hopping(10, 3).starts(7) == (0, 3, 6)


def test_definitions_from_the_ir_in_microseconds() -> None:
    assert WindowDefinition.from_ir(WindowIR(size_s=60, allowed_lateness_s=5)) == WindowDefinition(
        "tumbling", 60_000_000, 60_000_000, 5_000_000
    )
    hop = WindowDefinition.from_ir(WindowIR(kind="hopping", size_s=60, step_s=20))
    assert (hop.size_us, hop.step_us) == (60_000_000, 20_000_000)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (WindowIR(kind="hopping", size_s=60), "needs `step`"),
        (WindowIR(kind="tumbling", size_s=60, step_s=10), "`step` is for hopping"),
        (WindowIR(kind="hopping", size_s=10, step_s=60), "step must be > 0 and <= size"),
        (WindowIR(size_s=0), "size must be > 0"),
        (WindowIR(size_s=10, allowed_lateness_s=-1), "lateness must be >= 0"),
    ],
)
def test_bad_windows_say_what_to_fix(window: WindowIR, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WindowDefinition.from_ir(window)


def test_window_closes_when_the_watermark_passes_end_plus_lateness() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.tumbling(10, lateness_us=3), state, "p|")
    assert tr.assign(2).open == (0,)
    assert tr.advance(2) == []
    assert tr.assign(11).open == (10,)
    assert tr.advance(11) == []  # end 10 + lateness 3 = 13 not reached
    late = tr.assign(9)  # within the lateness: still counted
    assert late.open == (0,) and late.late == ()
    assert tr.advance(9) == []  # the watermark never goes back
    assert tr.watermark == 11
    tr.assign(13)
    assert tr.advance(13) == [0]
    assert tr.open_windows() == [10]


def test_an_event_past_the_lateness_is_reported_late_not_counted() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.tumbling(10), state, "p|")
    tr.assign(5)
    tr.advance(5)
    tr.assign(10)
    assert tr.advance(10) == [0]
    a = tr.assign(9)
    assert a.open == () and a.late == (0,)
    assert tr.open_windows() == [10]  # the closed window was not reopened


def test_hopping_event_late_for_one_window_still_counts_in_the_open_one() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.hopping(10, 5), state, "p|")
    for t in (1, 6, 12):
        tr.assign(t)
        tr.advance(t)
    assert tr.open_windows() == [5, 10]  # [0, 10) closed when the watermark reached 10
    a = tr.assign(8)  # belongs to [0, 10) (closed) and [5, 15) (open)
    assert a.late == (0,) and a.open == (5,)


def test_several_windows_close_at_once_oldest_first() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.hopping(10, 5), state, "p|")
    tr.assign(7)
    tr.advance(7)
    tr.assign(100)
    assert tr.advance(100) == [0, 5]
    assert tr.close_all() == [95, 100]
    assert tr.open_windows() == []


def test_state_is_json_and_a_new_tracker_continues_from_it() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.tumbling(10), state, "p|")
    tr.assign(3)
    tr.advance(3)
    restored = json.loads(json.dumps(state))
    assert restored == state == {"p|wm": 3, "p|open": [0]}
    tr2 = WindowTracker(WindowDefinition.tumbling(10), restored, "p|")
    assert tr2.watermark == 3
    tr2.assign(10)
    assert tr2.advance(10) == [0]


def test_event_time_from_produced_at_or_a_payload_field() -> None:
    assert event_time_us(1_700_000_000_000_000, {}, None) == 1_700_000_000_000_000
    assert event_time_us(0, {"ts": 1_700_000_000.25}, "ts") == 1_700_000_000_250_000
    with pytest.raises(ValueError, match=r"time_field 'ts'.*epoch seconds"):
        event_time_us(0, {"ts": "yesterday"}, "ts")
