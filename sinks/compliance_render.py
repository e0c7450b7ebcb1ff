"""The compliance report written out: JSON (every field, for machines), HTML and PDF (for an auditor).

HTML comes from sinks/templates/compliance.html.j2, which extends the styles every report page shares;
the PDF is that page rendered by weasyprint, offline. The page lists at most HTML_USES_LIMIT uses (a
period can hold millions of runs); the JSON always holds every one.
"""

from __future__ import annotations

import json
from pathlib import Path

from dana_workflows.sinks.compliance import ComplianceReport
from dana_workflows.sinks.report_html import html_to_pdf, render_template

HTML_USES_LIMIT = 1000


def render_json(report: ComplianceReport) -> str:
    return json.dumps(report.as_dict(), indent=1, sort_keys=True) + "\n"


def render_html(report: ComplianceReport, limit: int = HTML_USES_LIMIT) -> str:
    """A standalone page: styles inline, no external assets, no network."""
    return render_template("compliance.html.j2", report=report, limit=limit)


def write_pdf(report: ComplianceReport, path: Path, limit: int = HTML_USES_LIMIT) -> None:
    html_to_pdf(render_html(report, limit), path)
