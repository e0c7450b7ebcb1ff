"""DriftMonitor with known answers: a shift at a known event, a stationary stream, restarts, baselines."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest

from dana_workflows.drift import (
    DRIFT_RECORD_SCHEMA,
    LATE_EVENT_SCHEMA,
    BaselineBuilder,
    DriftMonitor,
    DriftRecord,
    LateEvent,
    read_baseline,
    write_baseline,
)
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000_000  # microseconds
STEP_US = 10_000  # 100 events per second
BEFORE: tuple[str, ...] = ("water", "damage", "roof", "fire", "theft", "car", "accident", "flood", "window")
BEFORE += ("broken", "phone", "laptop", "bike", "kitchen")
AFTER = ("ransomware", "cyber", "breach", "hail", "storm", "server", "outage", "invoice", "fraud", "wire")

MONITORS = (
    DriftMonitorIR(id="currency", field="currency"),
    DriftMonitorIR(id="amount", field="amount", feature="numeric"),
    DriftMonitorIR(id="description", field="description", feature="text"),
)


def claims(
    n: int, seed: int, shift_at: int | None = None, jitter_us: int = 0
) -> Iterator[tuple[dict[str, Any], int]]:
    """Monitor values and event time of n claims; from event `shift_at` on, every feature shifts."""
    rng = random.Random(seed)
    for i in range(n):
        shifted = shift_at is not None and i >= shift_at
        weights = [0.3, 0.3, 0.4] if shifted else [0.6, 0.3, 0.1]
        words = AFTER + BEFORE[:4] if shifted else BEFORE
        values = {
            "currency": rng.choices(("USD", "EUR", "GBP"), weights)[0],
            "amount": round(rng.lognormvariate(6.6 if shifted else 6.0, 1.0), 2),
            "description": " ".join(rng.choices(words, k=6)),
        }
        t = T0 + i * STEP_US - (rng.randrange(jitter_us) if jitter_us else 0)
        yield values, t


def run(monitor: DriftMonitor, events: Iterator[tuple[dict[str, Any], int]], flush: bool = True) -> list[Any]:
    out: list[Any] = []
    for values, t in events:
        out.extend(monitor.observe(values, t))
    if flush:
        out.extend(monitor.flush())
    return out


def drift(window: WindowIR, monitors: tuple[DriftMonitorIR, ...] = MONITORS) -> DriftIR:
    return DriftIR(window=window, monitors=monitors)


def records(items: list[Any]) -> list[DriftRecord]:
    return [r for r in items if isinstance(r, DriftRecord)]


# -- the known-answer streams --------------------------------------------------------------------------


def test_alert_fires_within_the_first_full_window_after_the_shift_and_never_before() -> None:
    shift_at = 33_333
    shift_time = T0 + shift_at * STEP_US
    size_us = 60_000_000  # 6000 events per window
    out = records(run(DriftMonitor("claims", drift(WindowIR(size_s=60)), {}), claims(60_000, 1, shift_at)))
    first_full_start = min(r.window_start_us for r in out if r.window_start_us >= shift_time)
    for monitor in ("currency", "amount", "description"):
        mine = [r for r in out if r.monitor == monitor]
        before = [r for r in mine if r.window_end_us <= shift_time]
        assert len(before) >= 4
        assert all(r.level == "ok" for r in before), [(r.window_start_us, r.psi) for r in before]
        alerts = [r for r in mine if r.level == "alert"]
        assert alerts, f"{monitor}: no alert after the shift"
        first = alerts[0]
        assert first.window_end_us > shift_time  # never before the shift...
        assert first.window_start_us <= first_full_start  # ...and by the first full window after it
        full = next(r for r in mine if r.window_start_us == first_full_start)
        assert full.level == "alert" and full.window_end_us - full.window_start_us == size_us
    currency_alert = next(r for r in out if r.monitor == "currency" and r.level == "alert")
    assert currency_alert.top_movers[0].bin == "GBP"
    assert currency_alert.top_movers[0].reference_share == pytest.approx(0.1, abs=0.02)
    assert currency_alert.top_movers[0].window_share > 0.3
    assert "GBP" in currency_alert.summary() and "currency" in currency_alert.summary()


def test_stationary_stream_of_100k_events_never_warns() -> None:
    out = records(run(DriftMonitor("claims", drift(WindowIR(size_s=60)), {}), claims(100_000, 2)))
    scored = [r for r in out if r.psi is not None]
    assert len(scored) == 3 * 16  # 17 windows of 6000 (the last one partial), the first is the reference
    full = [r for r in scored if r.closed_by == "watermark"]
    assert full and not any(r.below_min_count for r in full)  # the thresholds decide, not the gate
    worst = max(scored, key=lambda r: r.psi or 0.0)
    assert all(r.level == "ok" for r in scored), worst.summary()
    assert (worst.psi or 0.0) < 0.05  # noise: 9 * 2/6000 = 0.003 expected for the 10 numeric bins


def test_small_windows_are_scored_but_never_alert() -> None:
    mon = DriftMonitor("claims", drift(WindowIR(size_s=1), (MONITORS[1],)), {})  # 100 events per window
    scored = [r for r in records(run(mon, claims(5_000, 3))) if r.psi is not None]
    assert all(r.below_min_count and r.min_count == 605 for r in scored)
    assert all(r.level == "ok" for r in scored)
    assert max(r.psi or 0.0 for r in scored) > 0.1  # noise this large would have warned without the gate


# -- reference -----------------------------------------------------------------------------------------


def test_reference_from_the_first_k_windows() -> None:
    ir = drift(WindowIR(size_s=20), (MONITORS[0], MONITORS[1].model_copy(update={"reference_windows": 3})))
    out = records(run(DriftMonitor("claims", ir, {}), claims(12_000, 4)))
    amount = [r for r in out if r.monitor == "amount"]
    assert [r.reference for r in amount[:4]] == ["building", "building", "building", "windows"]
    assert all(r.psi is None and r.js is None for r in amount[:3])
    assert amount[3].reference_count == sum(r.count for r in amount[:3]) == 6000
    assert amount[3].bins == 10  # decile edges from the reference
    currency = [r for r in out if r.monitor == "currency"]
    assert currency[0].reference == "building" and currency[1].reference_count == 2000


def test_pinned_baseline(tmp_path: Path) -> None:
    builder = BaselineBuilder("claims", drift(WindowIR(size_s=60))).add_all(v for v, _ in claims(20_000, 5))
    built = builder.build(source="events.jsonl")
    path = write_baseline(tmp_path / "baseline.json", built)
    assert read_baseline(path) == built
    assert len(built.monitors["amount"].edges or ()) == 9
    pinned = tuple(m.model_copy(update={"baseline": "baseline.json"}) for m in MONITORS)
    mon = DriftMonitor("claims", drift(WindowIR(size_s=60), pinned), {}, base_dir=tmp_path)
    out = records(run(mon, claims(24_000, 6, shift_at=12_000)))
    assert all(r.reference == "baseline" and r.reference_count == 20_000 for r in out)
    first_window = [r for r in out if r.window_start_us == out[0].window_start_us]
    assert {r.level for r in first_window} == {"ok"}  # scored from the very first window
    shifted = [r for r in out if r.window_start_us >= T0 + 12_000 * STEP_US]
    assert {r.monitor for r in shifted if r.level == "alert"} == {"currency", "amount", "description"}


def test_baseline_mismatches_are_clear(tmp_path: Path) -> None:
    built = BaselineBuilder("claims", drift(WindowIR())).add_all(v for v, _ in claims(2_000, 5)).build("x")
    write_baseline(tmp_path / "b.json", built)
    text = MONITORS[2].model_copy(update={"baseline": "b.json", "buckets": 64})
    with pytest.raises(ValueError, match=r"64 buckets.*its baseline into 32"):
        DriftMonitor("claims", drift(WindowIR(), (text,)), {}, base_dir=tmp_path)
    missing = MONITORS[0].model_copy(update={"baseline": "nope.json"})
    with pytest.raises(ValueError, match=r"nope.json: drift baseline file not found.*dana-wf drift baseline"):
        DriftMonitor("claims", drift(WindowIR(), (missing,)), {}, base_dir=tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad.json: not valid JSON"):
        read_baseline(tmp_path / "bad.json")


def test_baseline_needs_values() -> None:
    with pytest.raises(ValueError, match=r"monitor 'currency'.*saw no values in e.jsonl"):
        BaselineBuilder("claims", drift(WindowIR())).add_all([{"amount": 1.0}]).build("e.jsonl")


# -- state, restarts, determinism ----------------------------------------------------------------------


RESTART_IR = drift(
    WindowIR(size_s=20, allowed_lateness_s=1),
    (MONITORS[0], MONITORS[1].model_copy(update={"reference_windows": 2}), MONITORS[2]),
)


@pytest.mark.parametrize("split", [700, 3_000, 5_000, 13_337])
def test_a_restarted_monitor_continues_exactly_where_the_last_one_stopped(split: int) -> None:
    events = list(claims(20_000, 7, shift_at=11_000, jitter_us=2_500_000))  # out of order, some late
    whole = run(DriftMonitor("claims", RESTART_IR, {}), iter(events))

    state: dict[str, Any] = {}
    first = run(DriftMonitor("claims", RESTART_IR, state), iter(events[:split]), flush=False)
    state = json.loads(json.dumps(state))  # what a changelog-backed table gives back after a restart
    second = run(DriftMonitor("claims", RESTART_IR, state), iter(events[split:]))

    assert [r.to_record() for r in first + second] == [r.to_record() for r in whole]
    assert any(isinstance(r, LateEvent) for r in whole)
    assert any(isinstance(r, DriftRecord) and r.level == "alert" for r in whole)


def test_same_input_same_records_with_hopping_windows() -> None:
    ir = drift(WindowIR(kind="hopping", size_s=30, step_s=10))
    a = run(DriftMonitor("claims", ir, {}), claims(15_000, 8, shift_at=9_000))
    b = run(DriftMonitor("claims", ir, {}), claims(15_000, 8, shift_at=9_000))
    assert [r.to_record() for r in a] == [r.to_record() for r in b]
    starts = sorted({r.window_start_us for r in records(a)})
    assert starts[1] - starts[0] == 10_000_000  # windows overlap, one every step


_OTHER_PROCESS = """
import importlib.util, json, sys
sys.path.insert(0, {root!r})
spec = importlib.util.spec_from_file_location("drift_test_copy", {here!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
out = mod.run(mod.DriftMonitor("claims", mod.RESTART_IR, {{}}), mod.claims(6_000, 9, shift_at=3_000))
print(json.dumps([r.to_record() for r in out], sort_keys=True))
"""


def test_records_do_not_depend_on_the_process_hash_seed() -> None:
    root = str(Path(__file__).resolve().parents[3])
    here = run(DriftMonitor("claims", RESTART_IR, {}), claims(6_000, 9, shift_at=3_000))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    script = _OTHER_PROCESS.format(root=root, here=str(Path(__file__).resolve()))
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps([r.to_record() for r in here], sort_keys=True))


# -- late events, flush, values ------------------------------------------------------------------------


def test_late_event_is_reported_and_not_counted() -> None:
    mon = DriftMonitor("claims", drift(WindowIR(size_s=10), (MONITORS[0],)), {})
    s = 1_000_000
    assert mon.observe({"currency": "USD"}, 1 * s) == []
    assert mon.observe({"currency": "USD"}, 2 * s) == []
    closed = mon.observe({"currency": "EUR"}, 11 * s)
    assert [(r.window_start_us, r.count, r.reference) for r in records(closed)] == [(0, 2, "building")]
    late = mon.observe({"currency": "GBP"}, 5 * s)
    assert len(late) == 1 and isinstance(late[0], LateEvent)
    assert (late[0].missed_windows, late[0].counted_windows, late[0].lateness_us) == ((0,), (), 6 * s)
    assert mon.late_events == 1
    tail = mon.flush()
    assert [(r.window_start_us, r.count, r.closed_by) for r in tail] == [(10 * s, 1, "flush")]
    assert {m.bin for m in tail[0].top_movers} == {"EUR", "USD"}  # the late GBP went nowhere


def test_a_monitor_absent_from_an_event_is_not_counted() -> None:
    ir = drift(WindowIR(size_s=10), (MONITORS[0], DriftMonitorIR(id="risk", field="risk", step="assess")))
    mon = DriftMonitor("claims", ir, {})
    assert mon.values_from({"currency": "EUR", "risk": "high"}) == {"currency": "EUR"}
    assert mon.values_from({"currency": "EUR", "risk": "high"}, "assess") == {"risk": "high"}
    mon.observe({"currency": "EUR"}, 1)
    mon.observe({"currency": "EUR", "risk": "low"}, 2)
    out = mon.flush()
    assert [(r.monitor, r.count, r.step) for r in out] == [("currency", 2, ""), ("risk", 1, "assess")]


# -- the record ----------------------------------------------------------------------------------------


def test_to_record_is_flat_and_avro_encodable() -> None:
    out = run(DriftMonitor("claims", drift(WindowIR(size_s=10)), {}), claims(3_000, 10, jitter_us=2_000_000))
    drift_schema = fastavro.parse_schema(DRIFT_RECORD_SCHEMA)
    late_schema = fastavro.parse_schema(LATE_EVENT_SCHEMA)
    kinds = set()
    for item in out:
        rec = item.to_record()
        assert all(isinstance(v, str | int | float | bool | type(None)) for v in rec.values())
        schema = drift_schema if isinstance(item, DriftRecord) else late_schema
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, rec)
        buf.seek(0)
        assert fastavro.schemaless_reader(buf, schema) == rec
        canonical_json(rec)  # fits an audit row's details
        kinds.add(type(item).__name__)
    assert kinds == {"DriftRecord", "LateEvent"}
    scored = next(r for r in records(out) if r.psi is not None)
    movers = json.loads(scored.to_record()["top_movers"])
    assert set(movers[0]) == {"bin", "reference_share", "window_share", "psi"}


@pytest.mark.parametrize(
    ("monitors", "message"),
    [
        ((MONITORS[0], MONITORS[0]), "used twice"),
        ((MONITORS[0].model_copy(update={"bins": (1.0, 2.0)}),), "`bins` are for numeric"),
        ((MONITORS[1].model_copy(update={"bins": (2.0, 1.0)}),), "strictly increasing"),
        ((MONITORS[0].model_copy(update={"warn_psi": 0.3}),), "warn_psi <= alert_psi"),
        ((MONITORS[0].model_copy(update={"reference_windows": 0}),), "reference_windows must be >= 1"),
    ],
)
def test_bad_monitors_say_what_to_fix(monitors: tuple[DriftMonitorIR, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftMonitor("claims", drift(WindowIR(), monitors), {})


# -- JS thresholds -------------------------------------------------------------------------------------


def test_js_thresholds_raise_the_level_psi_alone_would_give() -> None:
    """The same shifted stream scored by PSI only, and with JS thresholds set between the window's
    JS values: the level is the higher of the two, and without JS thresholds JS never decides."""
    events = list(claims(24_000, 4, shift_at=12_000))
    currency = MONITORS[0]
    by_psi = records(run(DriftMonitor("claims", drift(WindowIR(size_s=60), (currency,)), {}), iter(events)))
    shifted = [r for r in by_psi if r.level == "alert"]
    assert shifted and all(r.warn_js is None and r.alert_js is None for r in by_psi)
    js = min(r.js or 0.0 for r in shifted)
    # PSI thresholds out of reach: only JS can move the level now
    strict = currency.model_copy(
        update={"warn_psi": 50.0, "alert_psi": 99.0, "warn_js": js / 2, "alert_js": js}
    )
    by_js = records(run(DriftMonitor("claims", drift(WindowIR(size_s=60), (strict,)), {}), iter(events)))
    assert [(r.window_start_us, r.level) for r in by_js] == [(r.window_start_us, r.level) for r in by_psi]
    assert all((r.warn_js, r.alert_js) == (js / 2, js) for r in by_js)
    warn_only = strict.model_copy(update={"alert_js": None})
    levels = {
        r.level
        for r in records(
            run(DriftMonitor("claims", drift(WindowIR(size_s=60), (warn_only,)), {}), iter(events))
        )
        if r.psi is not None
    }
    assert levels == {"ok", "warn"}


@pytest.mark.parametrize(
    ("warn_js", "alert_js", "named"),
    [(0.3, 0.2, "warn 0.3 and alert 0.2"), (0.0, 0.2, "warn 0.0"), (0.1, 1.5, "at most 1")],
)
def test_js_thresholds_out_of_order_are_refused(warn_js: float, alert_js: float, named: str) -> None:
    bad = MONITORS[0].model_copy(update={"warn_js": warn_js, "alert_js": alert_js})
    with pytest.raises(ValueError, match=r"need 0 < warn_js <= alert_js <= 1") as info:
        DriftMonitor("claims", drift(WindowIR(size_s=60), (bad,)), {})
    assert named in str(info.value)
