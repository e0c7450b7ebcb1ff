"""Pinned baselines (drift/baseline.py), monitor settings (monitor_config.py) and window edges (windows.py).

Expected values from the documented rules: a window ``[start, start + size)`` closes once the watermark
reaches ``start + size + allowed_lateness`` (reaching it, not passing it); a hopping window's step is
``0 < step <= size``; a baseline file names its format and version and every reading error names the
file and the fix; a baseline must describe the monitor that uses it (feature, text buckets, edges);
thresholds need ``0 < warn <= alert`` (JS distances at most 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.drift.baseline import (
    FORMAT,
    FORMAT_VERSION,
    Baseline,
    BaselineBuilder,
    MonitorBaseline,
    check_against,
    load_baselines,
    read_baseline,
    write_baseline,
)
from dana_workflows.drift.features import bin_key, check_edges
from dana_workflows.drift.monitor_config import MonitorConfig, configs_from_ir
from dana_workflows.drift.windows import WindowDefinition, WindowTracker, event_time_us
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

S = 1_000_000


def _cfg(**kw: Any) -> MonitorConfig:
    base: dict[str, Any] = {"id": "m", "field": "f"}
    base.update(kw)
    return MonitorConfig.from_ir(DriftMonitorIR(**base))


def _doc(**monitors: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": FORMAT_VERSION, "workflow": "wf", "events": 3, "monitors": monitors}


def _write(tmp_path: Path, doc: object, name: str = "b.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


GOOD = {"field": "f", "feature": "categorical", "count": 3, "counts": {"a": 2, "b": 1}}


# -- reading a baseline -----------------------------------------------------------------------------------


def test_a_missing_file_names_the_file_and_both_fixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as e:
        read_baseline(tmp_path / "nope.json")
    assert str(e.value) == (
        f"{tmp_path / 'nope.json'}: drift baseline file not found; create it with `dana-wf drift baseline` "
        "or remove `baseline:` from the monitor"
    )


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text('{\n"format": \n}', encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"b\.json: not valid JSON \(line 3: .*re-create it with `dana-wf drift baseline`$"
    ):
        read_baseline(p)


@pytest.mark.parametrize("doc", [[1, 2], {"format": "other", "version": 1}, {"version": 1}])
def test_a_file_of_another_format_is_refused(tmp_path: Path, doc: object) -> None:
    with pytest.raises(
        ValueError, match="not a drift baseline \\(expected format 'dana-wf-drift-baseline'\\)"
    ):
        read_baseline(_write(tmp_path, doc))


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_another_format_version_is_refused(tmp_path: Path, version: object) -> None:
    doc = _doc(m=GOOD)
    doc["version"] = version
    with pytest.raises(ValueError, match=f"baseline format version {version!r}, this engine reads 1"):
        read_baseline(_write(tmp_path, doc))


@pytest.mark.parametrize(
    "monitor",
    [
        {**GOOD, "counts": {}},
        {**GOOD, "count": 0},
        {**GOOD, "count": -1},
    ],
)
def test_a_monitor_without_counts_is_refused(tmp_path: Path, monitor: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="monitor 'm' has no counts; re-create it"):
        read_baseline(_write(tmp_path, _doc(m=monitor)))


@pytest.mark.parametrize("drop", ["field", "feature", "counts", "count"])
def test_a_missing_entry_is_named_malformed(tmp_path: Path, drop: str) -> None:
    monitor = {k: v for k, v in GOOD.items() if k != drop}
    with pytest.raises(ValueError, match=r"missing or malformed entry"):
        read_baseline(_write(tmp_path, _doc(m=monitor)))


def test_no_workflow_or_monitors_is_malformed(tmp_path: Path) -> None:
    doc = _doc(m=GOOD)
    del doc["workflow"]
    with pytest.raises(ValueError, match="missing or malformed entry"):
        read_baseline(_write(tmp_path, doc))
    doc = _doc()
    doc["monitors"] = [1]
    with pytest.raises(ValueError, match="missing or malformed entry"):
        read_baseline(_write(tmp_path, doc, "c.json"))


def test_edges_in_a_file_are_checked_like_a_specs(tmp_path: Path) -> None:
    monitor = {**GOOD, "feature": "numeric", "counts": {"0": 1}, "count": 1, "edges": [2.0, 1.0]}
    with pytest.raises(ValueError, match=r"monitor 'm'.*strictly increasing"):
        read_baseline(_write(tmp_path, _doc(m=monitor)))


def test_a_written_baseline_reads_back_equal(tmp_path: Path) -> None:
    b = Baseline(
        workflow="wf",
        source="events.jsonl",
        events=7,
        monitors={
            "n": MonitorBaseline("n", "amount", "numeric", 5, {"0": 2, "1": 3}, edges=(1.0, 2.5)),
            "t": MonitorBaseline("t", "text", "text", 4, {"3": 4}, buckets=16),
            "c": MonitorBaseline("c", "k", "categorical", 7, {"x": 7}),
        },
        created_at="2026-01-01T00:00:00Z",
    )
    p = write_baseline(tmp_path / "sub" / "b.json", b)
    assert p == tmp_path / "sub" / "b.json"
    doc = json.loads(p.read_text(encoding="utf-8"))
    assert doc["format"] == FORMAT and doc["version"] == FORMAT_VERSION
    assert list(doc["monitors"]) == ["c", "n", "t"]
    assert "edges" not in doc["monitors"]["c"] and "buckets" not in doc["monitors"]["c"]
    assert read_baseline(p) == b


def test_optional_entries_default(tmp_path: Path) -> None:
    doc = {"format": FORMAT, "version": 1, "workflow": "wf", "monitors": {"m": GOOD}}
    b = read_baseline(_write(tmp_path, doc))
    assert (b.source, b.events, b.created_at) == ("", 0, "")
    assert b.monitors["m"].edges is None and b.monitors["m"].buckets is None


# -- building one ----------------------------------------------------------------------------------------


def test_the_builder_counts_each_monitors_values_and_the_events() -> None:
    drift = DriftIR(
        monitors=(
            DriftMonitorIR(id="c", field="k"),
            DriftMonitorIR(id="n", field="x", feature="numeric", bins=(10.0, 20.0)),
        )
    )
    b = BaselineBuilder("wf", drift).add_all([{"c": "a", "n": 5}, {"c": "a", "n": 10}, {"c": "b"}, {"n": 25}])
    base = b.build("src.jsonl", "t0")
    assert (base.workflow, base.source, base.events, base.created_at) == ("wf", "src.jsonl", 4, "t0")
    assert base.monitors["c"].counts == {"a": 2, "b": 1} and base.monitors["c"].count == 3
    # right-closed bins: 5 and 10 in bin 0 (x <= 10), 25 in bin 2 (x > 20)
    assert base.monitors["n"].counts == {"0": 2, "2": 1} and base.monitors["n"].count == 3
    assert base.monitors["n"].edges == (10.0, 20.0) and base.monitors["n"].buckets is None


def test_a_text_baseline_keeps_its_bucket_count() -> None:
    drift = DriftIR(monitors=(DriftMonitorIR(id="t", field="s", feature="text", buckets=8),))
    base = BaselineBuilder("wf", drift).add_all([{"t": "hello world"}]).build("s")
    assert base.monitors["t"].buckets == 8 and base.monitors["t"].count == 1
    assert all(0 <= int(k) < 8 for k in base.monitors["t"].counts)


def test_a_monitor_that_saw_nothing_is_named() -> None:
    drift = DriftIR(monitors=(DriftMonitorIR(id="c", field="k"), DriftMonitorIR(id="d", field="z")))
    with pytest.raises(ValueError, match=r"monitor 'd' \(field 'z'\) saw no values in src"):
        BaselineBuilder("wf", drift).add_all([{"c": 1}]).build("src")


# -- matching a baseline to its monitor ---------------------------------------------------------------------


def test_check_against_refuses_another_feature_bucket_count_or_edges() -> None:
    cat = MonitorBaseline("m", "f", "categorical", 1, {"a": 1})
    with pytest.raises(ValueError) as e:
        check_against(_cfg(feature="numeric", bins=(1.0,)), cat, "w")
    assert str(e.value) == (
        "w: monitor 'm' is numeric but its baseline holds a categorical feature; "
        "re-create the baseline after changing the monitor"
    )
    text = MonitorBaseline("m", "f", "text", 1, {"1": 1}, buckets=16)
    check_against(_cfg(feature="text", buckets=16), text, "w")
    with pytest.raises(ValueError) as e:
        check_against(_cfg(feature="text", buckets=32), text, "w")
    assert str(e.value) == (
        "w: monitor 'm' hashes text into 32 buckets, its baseline into 16; "
        "re-create the baseline or set `buckets: 16`"
    )
    no_edges = MonitorBaseline("m", "f", "numeric", 1, {"0": 1})
    with pytest.raises(ValueError) as e:
        check_against(_cfg(feature="numeric"), no_edges, "w")
    assert str(e.value) == "w: numeric monitor 'm' has a baseline without bin edges"
    edged = MonitorBaseline("m", "f", "numeric", 1, {"0": 1}, edges=(1.0, 2.0))
    check_against(_cfg(feature="numeric"), edged, "w")  # no bins declared: the baseline's are used
    check_against(_cfg(feature="numeric", bins=(1.0, 2.0)), edged, "w")
    with pytest.raises(ValueError) as e:
        check_against(_cfg(feature="numeric", bins=(1.0, 3.0)), edged, "w")
    assert str(e.value) == (
        "w: monitor 'm' declares bins [1.0, 3.0] but its baseline was built with [1.0, 2.0]; "
        "re-create the baseline or drop `bins:` to use the baseline's"
    )
    check_against(_cfg(), cat, "w")


def test_load_baselines_reads_relative_paths_once_and_names_a_missing_monitor(tmp_path: Path) -> None:
    _write(tmp_path, _doc(a=GOOD, b=GOOD))
    drift = DriftIR(
        monitors=(
            DriftMonitorIR(id="a", field="f", baseline="b.json"),
            DriftMonitorIR(id="b", field="f", baseline=str(tmp_path / "b.json")),
            DriftMonitorIR(id="c", field="f"),
        )
    )
    out = load_baselines(drift, tmp_path)
    assert sorted(out) == ["a", "b"] and out["a"].counts == {"a": 2, "b": 1}
    missing = DriftIR(monitors=(DriftMonitorIR(id="z", field="f", baseline="b.json"),))
    with pytest.raises(ValueError, match=r"no baseline for monitor 'z' \(it has \['a', 'b'\]\)"):
        load_baselines(missing, tmp_path)


# -- monitor settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"warn_psi": 0.0}, "need 0 < warn_psi <= alert_psi"),
        ({"warn_psi": 0.3, "alert_psi": 0.2}, "need 0 < warn_psi <= alert_psi"),
        ({"warn_js": 0.0}, "need 0 < warn_js <= alert_js <= 1"),
        ({"warn_js": 0.5, "alert_js": 0.4}, "need 0 < warn_js <= alert_js <= 1"),
        ({"alert_js": 1.01}, "need 0 < warn_js <= alert_js <= 1"),
        ({"reference_windows": 0}, "reference_windows must be >= 1, got 0"),
        ({"feature": "text", "buckets": 1}, "text needs at least 2 buckets, got 1"),
        ({"feature": "numeric", "quantile_bins": 1}, "quantile_bins must be >= 2, got 1"),
        ({"bins": (1.0,)}, "`bins` are for numeric monitors; this one is categorical"),
    ],
)
def test_monitor_settings_out_of_range_are_refused(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        _cfg(**kw)


def test_monitor_settings_at_their_limits_are_accepted() -> None:
    assert _cfg(warn_psi=0.2, alert_psi=0.2).warn_psi == 0.2
    assert _cfg(warn_js=1.0, alert_js=1.0).alert_js == 1.0
    assert _cfg(warn_js=0.3).warn_js == 0.3
    assert _cfg(reference_windows=1).reference_windows == 1
    assert _cfg(feature="text", buckets=2).buckets == 2
    assert _cfg(feature="numeric", quantile_bins=2).quantile_bins == 2
    assert _cfg(feature="numeric", quantile_bins=1, bins=(1.0,)).edges == (1.0,)
    assert _cfg(min_count=5).min_count == 5 and _cfg().min_count is None


def test_a_monitor_id_used_twice_is_refused() -> None:
    drift = DriftIR(monitors=(DriftMonitorIR(id="m", field="a"), DriftMonitorIR(id="m", field="b")))
    with pytest.raises(ValueError, match="drift monitor id 'm' is used twice"):
        configs_from_ir(drift)


def test_edges_must_be_finite_and_strictly_increasing() -> None:
    assert check_edges([1, 2.5], "w") == (1.0, 2.5)
    with pytest.raises(ValueError, match="w: bin edges must be finite"):
        check_edges([1.0, float("inf")], "w")
    with pytest.raises(ValueError, match="strictly increasing"):
        check_edges([1.0, 1.0], "w")


def test_bins_are_right_closed() -> None:
    edges = (10.0, 20.0)
    assert [bin_key(x, edges) for x in (9.99, 10, 10.01, 20, 20.5)] == ["0", "0", "1", "1", "2"]


# -- windows ---------------------------------------------------------------------------------------------


def test_window_definitions_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="size must be > 0, got 0 us"):
        WindowDefinition.tumbling(0)
    with pytest.raises(ValueError, match="step must be > 0 and <= size"):
        WindowDefinition.hopping(10, 11)
    with pytest.raises(ValueError, match="step must be > 0 and <= size"):
        WindowDefinition.hopping(10, 0)
    with pytest.raises(ValueError, match="allowed lateness must be >= 0, got -1 us"):
        WindowDefinition.tumbling(10, -1)
    assert WindowDefinition.hopping(10, 10).step_us == 10
    assert WindowDefinition.tumbling(10, 0).lateness_us == 0


def test_windows_from_the_spec_in_microseconds() -> None:
    t = WindowDefinition.from_ir(WindowIR(size_s=60, allowed_lateness_s=5))
    assert (t.kind, t.size_us, t.step_us, t.lateness_us) == ("tumbling", 60 * S, 60 * S, 5 * S)
    assert WindowDefinition.from_ir(WindowIR(size_s=60, step_s=60)).step_us == 60 * S
    h = WindowDefinition.from_ir(WindowIR(kind="hopping", size_s=60, step_s=20, allowed_lateness_s=1))
    assert (h.kind, h.size_us, h.step_us, h.lateness_us) == ("hopping", 60 * S, 20 * S, 1 * S)
    with pytest.raises(ValueError, match="`step` is for hopping windows"):
        WindowDefinition.from_ir(WindowIR(size_s=60, step_s=30))
    with pytest.raises(ValueError, match="a hopping window needs `step`"):
        WindowDefinition.from_ir(WindowIR(kind="hopping", size_s=60))


def test_hopping_starts_hold_the_time_in_half_open_windows() -> None:
    h = WindowDefinition.hopping(30, 10)
    assert h.starts(25) == (0, 10, 20)
    assert h.starts(30) == (10, 20, 30)  # [0, 30) no longer holds 30
    assert h.starts(29) == (0, 10, 20)
    assert h.starts(-1) == (-30, -20, -10)  # floor below the epoch too
    assert WindowDefinition.hopping(20, 10).starts(10) == (0, 10)
    assert WindowDefinition.tumbling(10).starts(-1) == (-10,)
    assert h.end(20) == 50 and WindowDefinition.hopping(30, 10, 4).closes_at(20) == 54


def test_event_time_from_produced_at_or_a_payload_field_in_seconds() -> None:
    assert event_time_us(123, {"t": 9}, None) == 123
    assert event_time_us(123, {"t": 9}, "t") == 9 * S
    assert event_time_us(123, {"t": 1.5}, "t") == 1_500_000
    for bad in (True, "9", None):
        with pytest.raises(ValueError, match=r"drift\.window\.time_field 't': expected epoch seconds"):
            event_time_us(0, {"t": bad}, "t")


def test_a_tumbling_window_closes_when_the_watermark_reaches_its_end_plus_lateness() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.tumbling(10, lateness_us=2), state, "p:")
    assert tr.watermark is None and tr.open_windows() == []
    assert tr.assign(3) == ((0,), ())
    assert tr.assign(13) == ((10,), ())
    assert state["p:open"] == [0, 10]
    assert tr.advance(11) == []  # [0, 10) closes at 10 + 2 = 12
    assert tr.watermark == 11
    assert tr.advance(12) == [0]
    assert tr.advance(5) == [] and tr.watermark == 12  # never backwards
    assert tr.advance(12) == []
    assert tr.open_windows() == [10]
    assert tr.assign(9) == ((), (0,))  # its window has closed: late, not counted
    assert tr.open_windows() == [10]
    assert tr.advance(21) == []
    assert tr.advance(22) == [10]
    assert tr.close_all() == [] and tr.watermark == 22


def test_the_lateness_boundary_is_inclusive() -> None:
    tr = WindowTracker(WindowDefinition.tumbling(10, lateness_us=5), {}, "")
    tr.assign(0)
    assert tr.advance(14) == []
    assert tr.assign(1) == ((0,), ())  # watermark 14 < 0 + 10 + 5: still open
    assert tr.advance(15) == [0]
    assert tr.assign(2) == ((), (0,))  # watermark 15 == closes_at: late


def test_a_hopping_event_counts_only_in_its_windows_still_open() -> None:
    state: dict[str, Any] = {}
    tr = WindowTracker(WindowDefinition.hopping(30, 10), state, "")
    assert tr.assign(25) == ((0, 10, 20), ())
    assert tr.advance(30) == [0]  # [0, 30) closes at 30
    assert tr.assign(25) == ((10, 20), (0,))
    assert tr.open_windows() == [10, 20]
    assert tr.assign(35) == ((10, 20, 30), ())
    assert tr.open_windows() == [10, 20, 30]
    assert tr.advance(50) == [10, 20]
    assert tr.close_all() == [30] and tr.open_windows() == [] and tr.watermark == 50
