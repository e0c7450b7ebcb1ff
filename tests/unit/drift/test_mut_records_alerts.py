"""Drift records and their log line (drift/records.py, drift/alerts.py), against the documented format.

The line: ``drift <level>: <wf>/<monitor> (<field>) window <start>..<end> n=<count> psi=<4 dp> js=<4 dp>;
moved most: <bin> <ref share>-><window share>, ...``; " (too few events to alert)" for a window below
min_count; a reference window says it is building; warn logs at WARNING, alert at ERROR, ok not at all.
A late event's lateness is the watermark minus its event time.
"""

from __future__ import annotations

import json
import logging

import pytest

from dana_workflows.drift.alerts import log_window
from dana_workflows.drift.records import DriftRecord, LateEvent, Mover

pytestmark = pytest.mark.unit

MIN = 60_000_000
T0 = 1_700_000_340_000_000  # 2023-11-14T22:19:00Z


def _rec(**kw: object) -> DriftRecord:
    base: dict[str, object] = {
        "workflow": "claims-triage",
        "monitor": "currency",
        "field": "currency",
        "feature": "categorical",
        "step": "",
        "window_start_us": T0,
        "window_end_us": T0 + MIN,
        "count": 6000,
        "psi": 0.65784,
        "js": 0.33451,
        "level": "alert",
        "warn_psi": 0.1,
        "alert_psi": 0.2,
        "reference": "windows",
        "reference_count": 6000,
        "bins": 3,
        "min_count": 100,
        "below_min_count": False,
        "top_movers": (Mover("GBP", 0.098, 0.406, 0.3), Mover("USD", 0.601, 0.292, 0.2)),
        "closed_by": "watermark",
    }
    base.update(kw)
    return DriftRecord(**base)  # type: ignore[arg-type]


def test_the_summary_line_in_the_documented_format() -> None:
    assert _rec().summary() == (
        "drift alert: claims-triage/currency (currency) window 2023-11-14T22:19:00Z..2023-11-14T22:20:00Z "
        "n=6000 psi=0.6578 js=0.3345; moved most: GBP 9.8%->40.6%, USD 60.1%->29.2%"
    )


def test_a_window_below_min_count_says_it_cannot_alert() -> None:
    line = _rec(level="ok", below_min_count=True).summary()
    assert "psi=0.6578 js=0.3345 (too few events to alert); moved most:" in line
    assert line.startswith("drift ok: ")


def test_a_reference_window_says_it_is_building() -> None:
    line = _rec(psi=None, js=None, level="ok", reference="building").summary()
    assert line == (
        "drift reference: claims-triage/currency (currency) "
        "window 2023-11-14T22:19:00Z..2023-11-14T22:20:00Z n=6000 (building the reference)"
    )
    assert "(building the reference)" in _rec(js=None).summary()


def test_a_record_is_flat_with_movers_as_a_json_array() -> None:
    r = _rec(warn_js=0.1, alert_js=0.3, step="classify").to_record()
    assert r["top_movers"] == json.dumps(
        [
            {"bin": "GBP", "psi": 0.3, "reference_share": 0.098, "window_share": 0.406},
            {"bin": "USD", "psi": 0.2, "reference_share": 0.601, "window_share": 0.292},
        ],
        separators=(",", ":"),
        sort_keys=True,
    )
    assert (r["warn_js"], r["alert_js"], r["step"], r["closed_by"]) == (0.1, 0.3, "classify", "watermark")
    assert (r["window_start_us"], r["window_end_us"], r["count"], r["bins"]) == (T0, T0 + MIN, 6000, 3)
    assert (r["reference"], r["reference_count"], r["min_count"], r["below_min_count"]) == (
        "windows",
        6000,
        100,
        False,
    )
    assert (r["psi"], r["js"], r["level"], r["warn_psi"], r["alert_psi"]) == (
        0.65784,
        0.33451,
        "alert",
        0.1,
        0.2,
    )
    assert all(not isinstance(v, list | dict | tuple) for v in r.values())


def test_a_late_event_record() -> None:
    late = LateEvent(
        "wf", event_time_us=100, watermark_us=250, missed_windows=(0, 50), counted_windows=(100,)
    )
    assert late.lateness_us == 150
    assert late.to_record() == {
        "workflow": "wf",
        "event_time_us": 100,
        "watermark_us": 250,
        "lateness_us": 150,
        "missed_windows": "[0,50]",
        "counted_windows": "[100]",
    }


@pytest.mark.parametrize(("level", "logged"), [("warn", logging.WARNING), ("alert", logging.ERROR)])
def test_warn_and_alert_log_once_at_their_level(
    level: str, logged: int, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.drift.alerts")
    with caplog.at_level(logging.DEBUG, logger="tests.drift.alerts"):
        line = log_window(_rec(level=level), logger)
    assert line == _rec(level=level).summary()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logged, line)]


def test_ok_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert log_window(_rec(level="ok")) is None
    assert caplog.records == []


def test_the_default_logger_is_the_alerts_module(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dana_workflows.drift.alerts"):
        log_window(_rec(level="warn"))
    assert [r.name for r in caplog.records] == ["dana_workflows.drift.alerts"]
