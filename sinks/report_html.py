"""The compliance report as an HTML page (a jinja2 template) and as a PDF, for an auditor.

Pass and fail in colour, hashes in monospace, values formatted by their Avro type (a double computed as
402.09400000000005 reads 402.094), and the event's journey through the steps as an inline SVG picture:
no external assets, no network, so the page opens anywhere and renders the same offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.audit_scope import utc_text
from dana_workflows.sinks.verify import verify_rows

# The colour class of a transition: how an auditor reads the journey at a glance.
KIND_CLASSES = {
    "emitted": "pass",
    "completed": "pass",
    "defaulted": "warn",
    "rejected": "fail",
    "dlq": "fail",
    "error": "fail",
    "routed": "route",
}
KIND_FILLS = {
    "pass": "#1a7f37",
    "warn": "#bf8700",
    "fail": "#cf222e",
    "route": "#0969da",
    "neutral": "#57606a",
}
# Significant digits a double is shown with: enough for any amount, few enough to hide binary noise.
DOUBLE_DIGITS = 12


class PdfUnavailable(RuntimeError):
    """The PDF renderer (weasyprint and its system libraries) is not installed."""


def kind_class(kind: str) -> str:
    return KIND_CLASSES.get(kind, "neutral")


def avro_type_of(value: Any) -> str:
    """The Avro type a JSON value read by a rule carries (the audit keeps values, not their schema)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return "record"


@dataclass(frozen=True, slots=True)
class Shown:
    """A value as the report shows it, with the CSS class of its type."""

    text: str
    css: str


def format_value(value: Any, avro_type: str | None = None) -> Shown:
    """`value` written the way its Avro type reads: doubles without binary noise, booleans and null as
    JSON spells them, text as it is, anything nested as compact JSON."""
    kind = avro_type or avro_type_of(value)
    if value is None:
        return Shown("null", "null")
    if kind in ("double", "float") and isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{float(value):.{DOUBLE_DIGITS}g}"
        return Shown(text if any(c in text for c in ".eni") else f"{text}.0", "num")  # 250.0 stays a double
    if kind == "boolean":
        return Shown("true" if value else "false", "bool")
    if kind in ("long", "int"):
        return Shown(str(value), "num")
    if kind == "string":
        return Shown(str(value), "text")
    return Shown(json.dumps(value, separators=(",", ":"), sort_keys=True, default=str), "text")


def journey_svg(rows: list[AuditRow]) -> str:
    """The run's transitions left to right, one coloured box per audit row, arrows between them."""
    box_w, box_h, gap, pad = 150, 52, 28, 6
    width = pad * 2 + len(rows) * box_w + max(len(rows) - 1, 0) * gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{box_h + pad * 2}" '
        f'viewBox="0 0 {width} {box_h + pad * 2}" role="img" aria-label="journey of the event">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#57606a"/></marker></defs>',
    ]
    for i, row in enumerate(rows):
        x = pad + i * (box_w + gap)
        fill = KIND_FILLS[kind_class(row.kind)]
        label = row.kind + (f": {row.decision}" if row.decision and row.decision != "pass" else "")
        parts.append(
            f'<g class="step {kind_class(row.kind)}">'
            f'<rect x="{x}" y="{pad}" width="{box_w}" height="{box_h}" rx="8" fill="{fill}"/>'
            f'<text x="{x + box_w / 2}" y="{pad + 21}" text-anchor="middle" font-size="12" fill="#ffffff" '
            f'font-weight="bold">{escape(_fit(row.step))}</text>'
            f'<text x="{x + box_w / 2}" y="{pad + 39}" text-anchor="middle" font-size="11" '
            f'fill="#ffffff">{escape(_fit(label))}</text></g>'
        )
        if i:
            y = pad + box_h / 2
            parts.append(
                f'<line x1="{x - gap + 2}" y1="{y}" x2="{x - 3}" y2="{y}" stroke="#57606a" '
                'stroke-width="2" marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _fit(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class RunView:
    """What the template shows of one run."""

    run_id: str
    workflow: str
    version: int
    started: str
    last: str
    outcome: str
    outcome_class: str
    final_step: str
    final_decision: str
    chain_ok: bool
    findings: list[str]
    rows: list[AuditRow]
    journey_svg: str
    rule_results: list[dict[str, Any]] = field(default_factory=list)


def run_view(rows: list[AuditRow], field_types: dict[str, str] | None = None) -> RunView:
    """The run as the template needs it; `field_types` (field -> Avro type, from the spec) where known."""
    types = field_types or {}
    first, last = rows[0], rows[-1]
    report = verify_rows(rows)
    results = []
    for row in rows:
        for res in json.loads(row.rule_results):
            values = _values_of(res.get("values"))
            shown = [(name, format_value(v, types.get(name))) for name, v in sorted(values.items())]
            results.append({**res, "values": shown})
    return RunView(
        run_id=first.run_id,
        workflow=first.workflow,
        version=first.workflow_version,
        started=utc_text(first.ts_us),
        last=utc_text(last.ts_us),
        outcome=last.kind,
        outcome_class=kind_class(last.kind),
        final_step=last.step,
        final_decision=last.decision,
        chain_ok=report.ok,
        findings=[str(f) for f in report.findings],
        rows=rows,
        journey_svg=journey_svg(rows),
        rule_results=results,
    )


def _values_of(recorded: Any) -> dict[str, Any]:
    """A rule result's values read: recorded as canonical JSON text (or, in older rows, as a mapping)."""
    if isinstance(recorded, str):
        try:
            recorded = json.loads(recorded)
        except json.JSONDecodeError:
            return {"value": recorded}
    return recorded if isinstance(recorded, dict) else {}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dana_workflows.sinks", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["kind_class"] = kind_class
    return env


def render_template(name: str, **context: Any) -> str:
    """One of sinks/templates/ rendered; every page extends base.html.j2, the one home of the styles."""
    return _environment().get_template(name).render(**context)


def render_report_html(rows: list[AuditRow], field_types: dict[str, str] | None = None) -> str:
    """A standalone HTML page: the styles inline, the journey an inline SVG, no external assets."""
    return render_template("report.html.j2", run=run_view(rows, field_types))


def html_to_pdf(html: str, path: Path) -> None:
    """A standalone page as a PDF, rendered by weasyprint offline (the page's @page rule sets the size)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: pango/cairo system libraries missing
        raise PdfUnavailable(
            f"PDF export needs weasyprint and pango: pip install 'dana-workflows[pdf]' ({exc})"
        ) from None
    HTML(string=html).write_pdf(path)


def write_report_pdf(rows: list[AuditRow], path: Path, field_types: dict[str, str] | None = None) -> None:
    """The same page as a PDF (A4 landscape, hashes wrap)."""
    html_to_pdf(render_report_html(rows, field_types), path)
