"""The drift monitor's per-window rules (drift/monitor.py), stated on small hand-made streams.

Rules (docs/drift.md and the module docstring): the first ``reference_windows`` closed windows build the
reference (psi None, reference "building"); later windows are scored against it; a level is "warn" from
``warn`` on and "alert" from ``alert`` on (inclusive), an unset threshold never fires, and the level is
the higher of PSI's and JS's; fewer than ``min_count`` events on either side: scored but "ok"; past
``max_categories`` distinct values a window counts the rest as ``<other>``; top movers are the largest
PSI terms, ties in key order, at most three; a late event is reported and counted nowhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.drift.baseline import MonitorBaseline
from dana_workflows.drift.monitor import DriftMonitor, _level
from dana_workflows.drift.records import DriftRecord, LateEvent
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

S = 1_000_000


def _monitor(state: dict[str, Any] | None = None, **kw: Any) -> DriftMonitor:
    m: dict[str, Any] = {"id": "m", "field": "f", "min_count": 1}
    m.update(kw)
    drift = DriftIR(window=WindowIR(size_s=10), monitors=(DriftMonitorIR(**m),))
    return DriftMonitor("wf", drift, state if state is not None else {})


def _feed(mon: DriftMonitor, window: int, values: list[Any]) -> list[DriftRecord | LateEvent]:
    out: list[DriftRecord | LateEvent] = []
    for i, v in enumerate(values):
        out += mon.observe({"m": v}, window * 10 * S + i)
    return out


def _records(out: list[DriftRecord | LateEvent]) -> list[DriftRecord]:
    return [r for r in out if isinstance(r, DriftRecord)]


def test_levels_are_inclusive_at_each_threshold_and_unset_never_fires() -> None:
    assert _level(0.099, 0.1, 0.2) == "ok"
    assert _level(0.1, 0.1, 0.2) == "warn"
    assert _level(0.199, 0.1, 0.2) == "warn"
    assert _level(0.2, 0.1, 0.2) == "alert"
    assert _level(5.0, None, None) == "ok"
    assert _level(5.0, 0.1, None) == "warn"
    assert _level(5.0, None, 0.3) == "alert"


def test_the_first_window_builds_the_reference_and_the_next_are_scored() -> None:
    mon = _monitor()
    assert _feed(mon, 0, ["a", "a", "b", "b"]) == []
    out = _records(_feed(mon, 1, ["a", "a", "b", "b"]))
    assert len(out) == 1
    ref = out[0]
    assert (ref.psi, ref.js, ref.level, ref.reference, ref.reference_count) == (
        None,
        None,
        "ok",
        "building",
        0,
    )
    assert (ref.window_start_us, ref.window_end_us, ref.count, ref.closed_by) == (0, 10 * S, 4, "watermark")
    assert (ref.workflow, ref.monitor, ref.field, ref.feature, ref.step) == (
        "wf",
        "m",
        "f",
        "categorical",
        "",
    )
    same = _records(_feed(mon, 2, ["a", "a", "a", "a"]))[0]  # closes window 1: same shares as the reference
    assert same.psi == pytest.approx(0.0, abs=1e-12) and same.level == "ok"
    assert (same.reference, same.reference_count, same.count, same.bins) == ("windows", 4, 4, 2)
    assert same.window_start_us == 10 * S and same.below_min_count is False and same.min_count == 1
    shifted = mon.flush()[0]  # window 2: all "a" against half and half
    assert shifted.closed_by == "flush" and shifted.level == "alert"
    assert shifted.psi is not None and shifted.psi >= 0.2
    assert [m.bin for m in shifted.top_movers] == ["b", "a"]
    assert shifted.top_movers[0].reference_share == 0.5 and shifted.top_movers[0].window_share == 0.0
    assert mon.flush() == []


def test_a_window_under_min_count_is_scored_but_never_warns() -> None:
    mon = _monitor(min_count=3)
    _feed(mon, 0, ["a", "a", "a"])
    _feed(mon, 1, ["b", "b"])  # closes the reference (3 events)
    low = _records(_feed(mon, 2, ["b", "b", "b"]))[0]  # closes window 1: 2 events < 3
    assert low.below_min_count is True and low.level == "ok" and low.psi is not None and low.psi > 1.0
    at = mon.flush()[0]  # window 2: exactly 3 events: judged
    assert at.below_min_count is False and at.level == "alert" and at.min_count == 3


def test_a_small_reference_holds_every_window_under_min_count() -> None:
    mon = _monitor(min_count=3)
    _feed(mon, 0, ["a", "a"])
    _feed(mon, 1, ["b", "b", "b"])
    rec = mon.flush()[0]
    assert rec.count == 3 and rec.reference_count == 2 and rec.below_min_count is True and rec.level == "ok"


def test_the_reference_pools_the_first_k_windows() -> None:
    mon = _monitor(reference_windows=2)
    _feed(mon, 0, ["a"])
    first = _records(_feed(mon, 1, ["b"]))
    second = _records(_feed(mon, 2, ["a", "b"]))
    assert first[0].reference == "building" and second[0].reference == "building"
    scored = mon.flush()[0]
    assert scored.reference == "windows" and scored.reference_count == 2
    assert scored.psi == pytest.approx(0.0, abs=1e-12)


def test_js_thresholds_raise_the_level_above_what_psi_says() -> None:
    mon = _monitor(warn_psi=5.0, alert_psi=9.0, warn_js=0.1, alert_js=0.9)
    _feed(mon, 0, ["a", "a", "b", "b"])
    _feed(mon, 1, ["a", "a", "a", "b"])
    rec = mon.flush()[0]
    assert rec.psi is not None and rec.psi < 5.0
    assert rec.js is not None and 0.1 <= rec.js < 0.9
    assert rec.level == "warn" and rec.warn_js == 0.1 and rec.alert_js == 0.9


def test_past_max_categories_the_rest_count_as_other() -> None:
    mon = _monitor(max_categories=2)
    _feed(mon, 0, ["a", "b", "c", "d", "a"])
    rec = mon.flush()[0]
    assert rec.count == 5
    state_counts = {"a": 2, "b": 1, "<other>": 2}
    mon2 = _monitor(max_categories=2)
    _feed(mon2, 0, ["a", "b", "c", "d", "a"])
    _feed(mon2, 1, ["a", "b", "c", "d", "a"])
    scored = mon2.flush()[0]
    assert scored.bins == len(state_counts) and scored.psi == pytest.approx(0.0, abs=1e-12)


def test_a_late_event_is_reported_counted_and_left_out() -> None:
    state: dict[str, Any] = {}
    mon = _monitor(state)
    _feed(mon, 0, ["a"])
    _feed(mon, 1, ["a"])  # watermark 10 s: window 0 closed
    out = mon.observe({"m": "zzz"}, 5 * S)
    assert len(out) == 1 and isinstance(out[0], LateEvent)
    assert mon.late_events == 1 and mon.watermark == 10 * S
    mon.observe({"m": "zzz"}, 6 * S)
    assert mon.late_events == 2
    assert all("zzz" not in str(v) for k, v in state.items() if "|w|" in k)


def test_values_are_taken_for_the_monitors_of_one_step() -> None:
    drift = DriftIR(
        monitors=(
            DriftMonitorIR(id="in", field="a"),
            DriftMonitorIR(id="out", field="b", step="classify"),
        )
    )
    mon = DriftMonitor("wf", drift, {})
    assert mon.monitor_ids == ("in", "out")
    assert mon.values_from({"a": 1, "b": 2}) == {"in": 1}
    assert mon.values_from({"a": 1, "b": 2}, "classify") == {"out": 2}
    assert mon.values_from({"a": 1}, "classify") == {"out": None}
    assert mon.values_from({"a": 1}, "other") == {}


def test_a_monitor_naming_a_baseline_needs_one_when_baselines_are_given() -> None:
    drift = DriftIR(monitors=(DriftMonitorIR(id="m", field="f", baseline="b.json"),))
    with pytest.raises(
        ValueError, match=r"drift monitor 'm' names the baseline 'b\.json' but none was given"
    ):
        DriftMonitor("wf", drift, {}, baselines={})
    bad = MonitorBaseline("m", "f", "numeric", 1, {"0": 1}, edges=(1.0,))
    with pytest.raises(ValueError, match="baseline for 'm'"):
        DriftMonitor("wf", drift, {}, baselines={"m": bad})


def test_a_given_baseline_scores_from_the_first_window() -> None:
    drift = DriftIR(window=WindowIR(size_s=10), monitors=(DriftMonitorIR(id="m", field="f", min_count=1),))
    base = MonitorBaseline("m", "f", "categorical", 4, {"a": 2, "b": 2})
    mon = DriftMonitor("wf", drift, {}, baselines={"m": base})
    _feed(mon, 0, ["a", "b"])
    rec = mon.flush()[0]
    assert rec.reference == "baseline" and rec.reference_count == 4
    assert rec.psi == pytest.approx(0.0, abs=1e-12) and rec.level == "ok"


def test_a_numeric_monitor_without_bins_cuts_the_reference_at_its_quantiles() -> None:
    mon = _monitor(feature="numeric", quantile_bins=2)
    _feed(mon, 0, [1.0, 1.0, 100.0, 100.0])
    _feed(mon, 1, [1.0, 1.0, 100.0, 100.0])
    rec = mon.flush()[0]
    assert rec.bins == 2 and rec.psi == pytest.approx(0.0, abs=1e-12)
    labels = {m.bin for m in rec.top_movers}
    assert len(labels) == 2 and any(label.startswith("(-inf, ") for label in labels)


def test_a_window_one_monitor_never_saw_gives_no_record_for_it() -> None:
    drift = DriftIR(
        window=WindowIR(size_s=10),
        monitors=(
            DriftMonitorIR(id="a", field="x", min_count=1),
            DriftMonitorIR(id="b", field="y", min_count=1),
        ),
    )
    mon = DriftMonitor("wf", drift, {})
    mon.observe({"a": 1, "b": 1}, 0)
    mon.observe({"a": 1}, 10 * S)  # closes window 0: both monitors saw it
    out = mon.flush()  # window 1: only monitor a has values
    assert [r.monitor for r in out] == ["a"]
    assert DriftMonitor("wf", drift, {}).flush() == []


def test_a_numeric_window_counted_while_the_reference_was_open_is_folded_into_its_bins() -> None:
    # allowed lateness keeps window 0 open while window 1 fills (still in the fine sketch); when window 0
    # closes the quantile edges are fixed, and window 1 is scored in those bins
    drift = DriftIR(
        window=WindowIR(size_s=10, allowed_lateness_s=10),
        monitors=(DriftMonitorIR(id="n", field="v", feature="numeric", quantile_bins=2, min_count=1),),
    )
    mon = DriftMonitor("wf", drift, {})
    for t, v in ((1, 1.0), (2, 1.0), (3, 100.0), (4, 100.0), (11, 1.0), (12, 100.0)):
        assert mon.observe({"n": v}, t * S) == []
    closed = mon.observe({"n": 1.0}, 20 * S)  # closes window 0 (at 10 + 10): the reference
    assert [r.reference for r in closed if isinstance(r, DriftRecord)] == ["building"]
    scored = mon.flush()
    assert [r.window_start_us for r in scored] == [10 * S, 20 * S]
    w1 = scored[0]
    assert w1.count == 2 and w1.bins == 2 and w1.psi == pytest.approx(0.0, abs=1e-12)
