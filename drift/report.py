"""Pictures of drift: the score per window over time as an SVG chart, and a terminal sparkline.

Hand-written SVG (no plotting library is a dependency): one panel per monitor, the PSI of each scored
window as a line with points coloured by level, and the warn and alert thresholds as dashed lines.
Input is drift records as dicts (``DriftRecord.to_record()``, as stored in the audit's details) or
DriftRecord objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dana_workflows.drift.records import DriftRecord

BARS = "▁▂▃▄▅▆▇█"
LEVEL_COLOURS = {"ok": "#2b7bb9", "warn": "#e69f00", "alert": "#d55e00"}
WARN_COLOUR = "#e69f00"
ALERT_COLOUR = "#d55e00"

WIDTH = 820
PANEL_H = 190
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 34, 34  # margins of each panel's plot area


@dataclass(frozen=True, slots=True)
class Point:
    start_us: int
    end_us: int
    value: float | None  # None: a reference window, not scored
    level: str


@dataclass(frozen=True, slots=True)
class Series:
    workflow: str
    monitor: str
    field: str
    feature: str
    warn: float
    alert: float
    points: tuple[Point, ...]  # by window start

    def values(self) -> list[float | None]:
        return [p.value for p in self.points]

    @property
    def alerts(self) -> int:
        return sum(1 for p in self.points if p.level == "alert")


def _as_dict(record: Mapping[str, Any] | DriftRecord) -> Mapping[str, Any]:
    return record.to_record() if isinstance(record, DriftRecord) else record


def collect(records: Iterable[Mapping[str, Any] | DriftRecord], metric: str = "psi") -> list[Series]:
    """Group records by monitor (first-seen order), points sorted by window start."""
    if metric not in ("psi", "js"):
        raise ValueError(f"drift report: metric must be 'psi' or 'js', got {metric!r}")
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        r = _as_dict(record)
        grouped.setdefault(str(r["monitor"]), []).append(r)
    out: list[Series] = []
    for monitor, rows in grouped.items():
        rows.sort(key=lambda r: int(r["window_start_us"]))
        first = rows[0]
        points = tuple(
            Point(
                int(r["window_start_us"]),
                int(r["window_end_us"]),
                None if r.get(metric) is None else float(r[metric]),
                str(r["level"]),
            )
            for r in rows
        )
        out.append(
            Series(
                workflow=str(first["workflow"]),
                monitor=monitor,
                field=str(first.get("field", "")),
                feature=str(first.get("feature", "")),
                warn=float(first["warn_psi"]),
                alert=float(first["alert_psi"]),
                points=points,
            )
        )
    return out


# -- terminal ------------------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], top: float | None = None) -> str:
    """One bar per value on a 0..top scale (top: the largest value); a blank for a missing value."""
    present = [v for v in values if v is not None]
    if top is None:
        top = max(present, default=0.0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif top <= 0.0:
            out.append(BARS[0])
        else:
            out.append(BARS[min(len(BARS) - 1, max(0, int(v / top * len(BARS))))])
    return "".join(out)


def terminal_summary(records: Iterable[Mapping[str, Any] | DriftRecord], metric: str = "psi") -> str:
    """A line per monitor: its sparkline (scaled to at least the alert threshold), last, max, alerts."""
    lines = []
    for s in collect(records, metric):
        scored = [v for v in s.values() if v is not None]
        top = max([*scored, s.alert]) if metric == "psi" else max(scored, default=1.0)
        spark = sparkline(s.values(), top)
        if scored:
            stats = f"last {scored[-1]:.3f}  max {max(scored):.3f}  alerts {s.alerts}/{len(scored)}"
        else:
            stats = "building the reference"
        lines.append(f"{s.monitor:<16} {spark}  {metric} {stats}")
    return "\n".join(lines)


# -- SVG -----------------------------------------------------------------------------------------------


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _num(x: float) -> str:
    return f"{x:.1f}"


def _panel(s: Series, y0: int, t_min: int, t_max: int, metric: str) -> list[str]:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = PANEL_H - TOP - BOTTOM
    scored = [p.value for p in s.points if p.value is not None]
    y_top = max([*scored, s.alert if metric == "psi" else 0.0, 1e-9]) * 1.1
    span = max(t_max - t_min, 1)

    def x_of(us: int) -> float:
        return LEFT + (us - t_min) / span * plot_w

    def y_of(v: float) -> float:
        return y0 + TOP + plot_h - v / y_top * plot_h

    title = f"{s.monitor} · {s.field} ({s.feature}) — {metric} per window"
    parts = [
        f'<g class="panel" data-monitor={quoteattr(s.monitor)}>',
        f'<text x="{LEFT}" y="{y0 + 20}" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{y0 + TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for frac in (0.0, 0.5, 1.0):  # y ticks
        v = y_top * frac
        y = _num(y_of(v))
        parts.append(
            f'<text x="{LEFT - 6}" y="{y}" font-size="11" text-anchor="end" dominant-baseline="middle">'
            f"{v:.3g}</text>"
        )
    for p in s.points:  # reference windows: a grey band
        if p.value is None:
            x1, x2 = x_of(p.start_us), x_of(p.end_us)
            parts.append(
                f'<rect class="reference" x="{_num(x1)}" y="{y0 + TOP}" width="{_num(max(x2 - x1, 1.0))}" '
                f'height="{plot_h}" fill="#eeeeee"/>'
            )
    if metric == "psi":
        for name, value, colour in (("warn", s.warn, WARN_COLOUR), ("alert", s.alert, ALERT_COLOUR)):
            y = _num(y_of(value))
            parts.append(
                f'<line class="threshold-{name}" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y}" y2="{y}" '
                f'stroke="{colour}" stroke-dasharray="6 4" data-value="{value}"/>'
            )
            parts.append(
                f'<text x="{LEFT + plot_w - 4}" y="{_num(y_of(value) - 4)}" font-size="11" '
                f'text-anchor="end" fill="{colour}">{name} {value:g}</text>'
            )
    pts = [(x_of((p.start_us + p.end_us) // 2), y_of(p.value), p) for p in s.points if p.value is not None]
    if pts:
        coords = " ".join(f"{_num(px)},{_num(py)}" for px, py, _ in pts)
        parts.append(
            f'<polyline class="score" points="{coords}" fill="none" stroke="#444" stroke-width="1.5"/>'
        )
        for px, py, p in pts:
            colour = LEVEL_COLOURS.get(p.level, "#444")
            tip = f"{_iso(p.start_us)} {metric}={p.value:.4f} {p.level}"
            parts.append(
                f'<circle class="level-{escape(p.level)}" cx="{_num(px)}" cy="{_num(py)}" r="3.5" '
                f'fill="{colour}"><title>{escape(tip)}</title></circle>'
            )
    base = y0 + PANEL_H - BOTTOM + 16
    parts.append(f'<text x="{LEFT}" y="{base}" font-size="11">{escape(_iso(t_min))}</text>')
    end = escape(_iso(t_max))
    parts.append(f'<text x="{LEFT + plot_w}" y="{base}" font-size="11" text-anchor="end">{end} UTC</text>')
    parts.append("</g>")
    return parts


def render_svg(
    records: Iterable[Mapping[str, Any] | DriftRecord], metric: str = "psi", title: str | None = None
) -> str:
    """The whole chart as an SVG document (one panel per monitor, sharing the time axis)."""
    series = collect(records, metric)
    height = 40 + PANEL_H * max(len(series), 1)
    head = title or (f"{series[0].workflow}: drift per window" if series else "drift: no records")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH // 2}" y="24" font-size="16" text-anchor="middle">{escape(head)}</text>',
    ]
    if series:
        t_min = min(p.start_us for s in series for p in s.points)
        t_max = max(p.end_us for s in series for p in s.points)
        for i, s in enumerate(series):
            parts.extend(_panel(s, 40 + i * PANEL_H, t_min, t_max, metric))
    else:
        parts.append(f'<text x="{WIDTH // 2}" y="120" text-anchor="middle">no closed windows yet</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_svg(
    records: Iterable[Mapping[str, Any] | DriftRecord],
    path: Path,
    metric: str = "psi",
    title: str | None = None,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_svg(records, metric, title), encoding="utf-8")
    return path
