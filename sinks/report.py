"""A compliance report for one run: every step, rule result and decision, and the chain's status."""

from __future__ import annotations

import json

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.audit_scope import utc_text
from dana_workflows.sinks.verify import verify_rows


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[AuditRow]) -> str:
    first, last = rows[0], rows[-1]
    report = verify_rows(rows)
    chain = "verified: every row matches its hash and links to the one before" if report.ok else "BROKEN"
    out = [
        f"# Audit report: run `{first.run_id}`",
        "",
        f"- Workflow: **{first.workflow}**, version **{first.workflow_version}**",
        f"- Started: {utc_text(first.ts_us)}; last event: {utc_text(last.ts_us)}",
        f"- Final decision: **{last.kind}** at `{last.step}`"
        + (f" ({last.decision})" if last.decision else ""),
        f"- Audit rows: {len(rows)}; hash chain: **{chain}**",
    ]
    for f in report.findings:
        out.append(f"  - {f}")
    out += [
        "",
        "## Steps",
        "",
        "| # | step | transition | decision | reason | attempt | µs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.seq} | {_cell(r.step)} | {r.kind} | {_cell(r.decision)} | {_cell(r.reason)} | "
            f"{r.attempt} | {r.duration_us} |"
        )
    out += [
        "",
        "## Rule results",
        "",
        "| step | rule | passed | severity | message | values read |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        for res in json.loads(r.rule_results):
            out.append(
                f"| {_cell(res['step'])} | {_cell(res['rule_id'])} | {'yes' if res['passed'] else 'NO'} | "
                f"{res['severity']} | {_cell(res['message'])} | `{_cell(res['values'])}` |"
            )
    out += ["", "## Hashes", "", "| # | prev_hash | hash |", "|---|---|---|"]
    for r in rows:
        out.append(f"| {r.seq} | `{r.prev_hash}` | `{r.hash}` |")  # whole: an auditor recomputes them
    return "\n".join(out) + "\n"


def render_html(rows: list[AuditRow]) -> str:
    """The report as a standalone HTML page (sinks/report_html.py renders it from a jinja2 template)."""
    from dana_workflows.sinks.report_html import render_report_html

    return render_report_html(rows)
