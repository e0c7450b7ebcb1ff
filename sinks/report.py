"""A compliance report for one run: every step, rule result and decision, and the chain's status."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows


def _ts(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[AuditRow]) -> str:
    first, last = rows[0], rows[-1]
    report = verify_rows(rows)
    chain = "verified: every row matches its hash and links to the one before" if report.ok else "BROKEN"
    out = [
        f"# Compliance report: run `{first.run_id}`",
        "",
        f"- Workflow: **{first.workflow}**, version **{first.workflow_version}**",
        f"- Started: {_ts(first.ts_us)}; last event: {_ts(last.ts_us)}",
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
    """The Markdown report's tables as a standalone HTML page (no external assets)."""
    body: list[str] = []
    in_table = False
    for line in render_markdown(rows).splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip().replace("\\|", "|")) for c in line.strip("|").split(" | ")]
            if set(line) <= {"|", "-"}:
                continue
            if not in_table:
                body.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
                in_table = True
            else:
                body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.strip().startswith("- "):
            body.append(f"<p>{html.escape(line.strip()[2:])}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f4f4f4}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Run {html.escape(rows[0].run_id)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
