"""The drift picture: SVG panels with threshold lines at the right height, and the terminal sparkline."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.drift import DriftMonitor, DriftRecord
from dana_workflows.drift.report import (
    LEFT,
    PANEL_H,
    TOP,
    collect,
    render_svg,
    sparkline,
    terminal_summary,
    write_svg,
)
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def record(monitor: str, start_s: int, psi: float | None, level: str = "ok") -> dict[str, Any]:
    return {
        "workflow": "claims",
        "monitor": monitor,
        "field": monitor,
        "feature": "categorical",
        "window_start_us": start_s * 1_000_000,
        "window_end_us": (start_s + 60) * 1_000_000,
        "psi": psi,
        "js": None if psi is None else psi / 2,
        "level": level,
        "warn_psi": 0.1,
        "alert_psi": 0.2,
    }


RECORDS = [
    record("currency", 0, None),
    record("currency", 60, 0.02),
    record("currency", 120, 0.15, "warn"),
    record("currency", 180, 0.44, "alert"),
    record("amount", 0, None),
    record("amount", 60, 0.01),
    record("amount", 120, 0.01),
    record("amount", 180, 0.05),
]


def test_sparkline_known_answer() -> None:
    # top = 0.8: 0 -> bar 0, 0.1 -> int(1.0) = bar 1, 0.4 -> int(4.0) = bar 4, 0.8 -> bar 7 (clamped)
    assert sparkline([0.0, 0.1, None, 0.4, 0.8], top=0.8) == "▁▂ ▅█"
    assert sparkline([0.0, 0.0]) == "▁▁"
    assert sparkline([]) == ""


def test_terminal_summary_scales_to_the_alert_threshold() -> None:
    lines = terminal_summary(RECORDS).splitlines()
    assert lines[0].startswith("currency") and "alerts 1/3" in lines[0] and "max 0.440" in lines[0]
    # amount: top = max(0.05, alert 0.2) = 0.2 -> 0.01 is bar 0, 0.05 is int(2.0) = bar 2
    assert " ▁▁▃ " in lines[1] and "alerts 0/3" in lines[1]


def test_svg_has_a_panel_per_monitor_and_thresholds_at_their_values() -> None:
    root = ET.fromstring(render_svg(RECORDS))
    panels = root.findall(f"{SVG}g")
    assert [p.get("data-monitor") for p in panels] == ["currency", "amount"]
    currency = panels[0]
    points = currency.find(f"{SVG}polyline")
    assert points is not None
    coords = [tuple(float(v) for v in xy.split(",")) for xy in (points.get("points") or "").split()]
    assert len(coords) == 3  # the reference window is a grey band, not a point
    assert len(currency.findall(f"{SVG}rect[@class='reference']")) == 1
    # y scale: plot area from TOP to PANEL_H - 34 below the panel's top (40), 0..0.44*1.1
    plot_h = PANEL_H - TOP - 34
    y_top = 0.44 * 1.1

    def y_of(v: float) -> float:
        return 40 + TOP + plot_h - v / y_top * plot_h

    for name, value in (("warn", 0.1), ("alert", 0.2)):
        line = currency.find(f"{SVG}line[@class='threshold-{name}']")
        assert line is not None
        assert float(line.get("y1") or 0) == pytest.approx(y_of(value), abs=0.05)
        assert float(line.get("x1") or 0) == LEFT
    assert coords[-1][1] == pytest.approx(y_of(0.44), abs=0.05)
    levels = [c.get("class") for c in currency.findall(f"{SVG}circle")]
    assert levels == ["level-ok", "level-warn", "level-alert"]


def test_svg_from_a_real_monitor_run_written_to_a_file(tmp_path: Path) -> None:
    ir = DriftIR(window=WindowIR(size_s=10), monitors=(DriftMonitorIR(id="currency", field="currency"),))
    mon = DriftMonitor("claims & co", ir, {})
    out: list[DriftRecord] = []
    for i in range(4000):
        cur = "USD" if i < 2000 or i % 2 else "GBP"
        out.extend(r for r in mon.observe({"currency": cur}, i * 10_000) if isinstance(r, DriftRecord))
    out.extend(mon.flush())
    path = write_svg(out, tmp_path / "drift.svg")
    root = ET.parse(path).getroot()  # well-formed, the & escaped
    assert "claims &amp; co" in path.read_text()
    assert root.find(f".//{SVG}circle[@class='level-alert']") is not None
    assert [s.monitor for s in collect(out)] == ["currency"]


def test_empty_report_and_bad_metric() -> None:
    assert "no closed windows yet" in render_svg([])
    with pytest.raises(ValueError, match="metric must be"):
        render_svg(RECORDS, metric="kl")
    ET.fromstring(render_svg(RECORDS, metric="js"))
