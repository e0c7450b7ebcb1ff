"""Drift pictures (drift/report.py): grouping, the sparkline scale, the terminal line and the SVG layout.

Expected from the module's stated layout: bars ``▁..█`` on a 0..top scale (index int(v / top * 8),
capped at the last bar), a blank for a missing value; the terminal scale reaches at least the alert
line for PSI; panels of 190 px with margins 64/24/34/34 in an 820 px wide chart, 40 px for the title,
the y axis running to 1.1 x the largest of the scores and the alert line, points at window midpoints.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.drift.report import BARS, collect, render_svg, sparkline, terminal_summary, write_svg

pytestmark = pytest.mark.unit

S = 1_000_000
NS = "{http://www.w3.org/2000/svg}"


def _rec(
    monitor: str, start_s: int, psi: float | None, level: str = "ok", js: float | None = None
) -> dict[str, Any]:
    return {
        "workflow": "claims",
        "monitor": monitor,
        "field": "f",
        "feature": "categorical",
        "window_start_us": start_s * S,
        "window_end_us": (start_s + 10) * S,
        "psi": psi,
        "js": js,
        "level": level,
        "warn_psi": 0.1,
        "alert_psi": 0.2,
    }


def test_collect_groups_by_monitor_in_first_seen_order_and_sorts_windows() -> None:
    series = collect([_rec("b", 10, 0.3), _rec("a", 0, None), _rec("b", 0, None, js=None)])
    assert [s.monitor for s in series] == ["b", "a"]
    b = series[0]
    assert [p.start_us for p in b.points] == [0, 10 * S] and b.values() == [None, 0.3]
    assert (b.workflow, b.field, b.feature, b.warn, b.alert) == ("claims", "f", "categorical", 0.1, 0.2)
    assert collect([_rec("a", 0, 0.5, js=0.25)], "js")[0].values() == [0.25]
    with pytest.raises(ValueError, match="metric must be 'psi' or 'js', got 'kl'"):
        collect([], "kl")


def test_alerts_count_alert_points_only() -> None:
    s = collect([_rec("a", 0, 0.5, "alert"), _rec("a", 10, 0.15, "warn"), _rec("a", 20, 0.9, "alert")])[0]
    assert s.alerts == 2


def test_the_sparkline_scale() -> None:
    assert sparkline([0.0, 0.5, 1.0, None], 1.0) == BARS[0] + BARS[4] + BARS[7] + " "
    assert sparkline([0.124, 0.125, 0.99], 1.0) == BARS[0] + BARS[1] + BARS[7]
    assert sparkline([2.0, 4.0]) == BARS[4] + BARS[7]  # top defaults to the largest value
    assert sparkline([0.0, 0.0]) == BARS[0] * 2
    assert sparkline([None]) == " "
    assert sparkline([-1.0, 3.0], 2.0) == BARS[0] + BARS[7]


def test_the_terminal_line_per_monitor() -> None:
    recs = [_rec("amount", 0, None), _rec("amount", 10, 0.05), _rec("amount", 20, 0.1, "warn")]
    line = terminal_summary(recs)
    # scale: max(0.1, alert 0.2) = 0.2 -> 0.05 at bar 2, 0.1 at bar 4
    assert line == f"{'amount':<16}  {BARS[2]}{BARS[4]}  psi last 0.100  max 0.100  alerts 0/2"
    building = terminal_summary([_rec("x", 0, None)])
    assert building == f"{'x':<16}    psi building the reference"
    two = terminal_summary([_rec("a", 0, 0.5, "alert"), _rec("b", 0, 0.0)]).split("\n")
    assert len(two) == 2 and two[0].endswith("alerts 1/1") and two[1].endswith("alerts 0/1")
    js = terminal_summary([_rec("a", 0, 0.5, js=0.5), _rec("a", 10, 0.5, js=0.25)], "js")
    assert js == f"{'a':<16} {BARS[7]}{BARS[4]}  js last 0.250  max 0.500  alerts 0/2"


def _svg(records: list[dict[str, Any]], **kw: Any) -> ET.Element:
    return ET.fromstring(render_svg(records, **kw))


def test_an_empty_chart_says_so() -> None:
    root = _svg([])
    assert root.get("height") == str(40 + 190) and root.get("width") == "820"
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert texts == ["drift: no records", "no closed windows yet"]


def test_the_svg_layout_by_hand() -> None:
    root = _svg([_rec("m", 0, None), _rec("m", 10, 0.5, "alert")])
    assert root.get("height") == "230" and root.get("viewBox") == "0 0 820 230"
    assert next(t.text for t in root.iter(f"{NS}text")) == "claims: drift per window"
    panel = root.find(f"{NS}g")
    assert panel is not None and panel.get("data-monitor") == "m"
    ref = panel.find(f"{NS}rect[@class='reference']")
    # window [0, 10) of [0, 20] over 732 px from x = 64
    assert ref is not None and ref.get("x") == "64.0" and ref.get("width") == "366.0"
    assert ref.get("y") == str(40 + 34) and ref.get("height") == "122"
    circle = panel.find(f"{NS}circle")
    assert circle is not None and circle.get("class") == "level-alert" and circle.get("fill") == "#d55e00"
    # midpoint 15 s: 64 + 0.75 * 732 = 613; y top = 0.5 * 1.1: 40 + 34 + 122 - 0.5 / 0.55 * 122 = 85.1
    assert (circle.get("cx"), circle.get("cy")) == ("613.0", "85.1")
    title = circle.find(f"{NS}title")
    assert title is not None and title.text == "1970-01-01 00:00 psi=0.5000 alert"
    warn = panel.find(f"{NS}line[@class='threshold-warn']")
    alert = panel.find(f"{NS}line[@class='threshold-alert']")
    assert warn is not None and alert is not None
    assert warn.get("data-value") == "0.1" and alert.get("data-value") == "0.2"
    assert warn.get("y1") == f"{196 - 0.1 / 0.55 * 122:.1f}" and alert.get("stroke") == "#d55e00"
    poly = panel.find(f"{NS}polyline")
    assert poly is not None and poly.get("points") == "613.0,85.1"


def test_the_y_axis_reaches_the_alert_line_when_scores_are_low_and_js_draws_no_thresholds() -> None:
    root = _svg([_rec("m", 0, 0.01)])
    circle = root.find(f"{NS}g/{NS}circle")
    # y top = 0.2 * 1.1 = 0.22: 196 - 0.01 / 0.22 * 122
    assert circle is not None and circle.get("cy") == f"{196 - 0.01 / 0.22 * 122:.1f}"
    js = _svg([_rec("m", 0, 0.01, js=0.5)], metric="js", title="T")
    assert next(t.text for t in js.iter(f"{NS}text")) == "T"
    assert js.find(f"{NS}g/{NS}line") is None
    c = js.find(f"{NS}g/{NS}circle")
    assert c is not None and c.get("cy") == f"{196 - 0.5 / 0.55 * 122:.1f}"


def test_panels_stack_and_share_the_time_axis(tmp_path: Path) -> None:
    recs = [_rec("a", 0, 0.1), _rec("b", 30, 0.1)]
    root = _svg(recs)
    assert root.get("height") == str(40 + 2 * 190)
    panels = root.findall(f"{NS}g")
    assert [p.get("data-monitor") for p in panels] == ["a", "b"]
    cx = [p.find(f"{NS}circle").get("cx") for p in panels]  # type: ignore[union-attr]
    # time axis [0, 40 s]: midpoints 5 s and 35 s
    assert cx == [f"{64 + 5 / 40 * 732:.1f}", f"{64 + 35 / 40 * 732:.1f}"]
    out = write_svg(recs, tmp_path / "sub" / "d.svg")
    assert out.read_text(encoding="utf-8") == render_svg(recs)
