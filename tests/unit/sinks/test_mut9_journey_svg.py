"""The journey picture of the HTML report (sinks/report_html.py ``journey_svg``), written out whole for three
hand-made rows: boxes 150 x 52 with 28 between them and 6 of padding, coloured by the transition's class
(KIND_CLASSES/KIND_FILLS), the step on top and the transition (with its decision, except ``pass``) below,
texts cut at 22 characters with an ellipsis and escaped, an arrow from each box to the next.
"""

from __future__ import annotations

import pytest

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.report_html import journey_svg

pytestmark = pytest.mark.unit


def _row(seq: int, step: str, kind: str, decision: str = "") -> AuditRow:
    return AuditRow("w", 1, "r", seq, "e", step, kind, decision)


def _box(x: int, cls: str, fill: str, step: str, label: str) -> str:
    return (
        f'<g class="step {cls}"><rect x="{x}" y="6" width="150" height="52" rx="8" fill="{fill}"/>'
        f'<text x="{x + 75}.0" y="27" text-anchor="middle" font-size="12" fill="#ffffff" font-weight="bold">'
        f"{step}</text>"
        f'<text x="{x + 75}.0" y="45" text-anchor="middle" font-size="11" fill="#ffffff">{label}</text></g>'
    )


def _arrow(x: int) -> str:
    return (
        f'<line x1="{x - 26}" y1="32.0" x2="{x - 3}" y2="32.0" stroke="#57606a" '
        'stroke-width="2" marker-end="url(#arrow)"/>'
    )


def test_three_transitions_drawn_left_to_right() -> None:
    rows = [
        _row(0, "in<take>", "received"),
        _row(1, "a very long step name exceeding", "rejected", "deny"),
        _row(2, "pay", "emitted", "pass"),
    ]
    assert journey_svg(rows) == "".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" width="518" height="64" viewBox="0 0 518 64" role="img" '
            'aria-label="journey of the event">',
            '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#57606a"/></marker></defs>',
            _box(6, "neutral", "#57606a", "in&lt;take&gt;", "received"),
            _box(184, "fail", "#cf222e", "a very long step name…", "rejected: deny"),
            _arrow(184),
            _box(362, "pass", "#1a7f37", "pay", "emitted"),
            _arrow(362),
            "</svg>",
        ]
    )


def test_a_single_box_has_no_arrow_and_its_own_width() -> None:
    svg = journey_svg([_row(0, "route", "routed", "fast lane")])
    assert svg.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" width="162" height="64" viewBox="0 0 162 64"'
    )
    assert _box(6, "route", "#0969da", "route", "routed: fast lane") in svg
    assert "<line" not in svg
    warn = journey_svg([_row(0, "fill", "defaulted")])
    assert _box(6, "warn", "#bf8700", "fill", "defaulted") in warn
