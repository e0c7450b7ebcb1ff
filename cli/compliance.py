"""``dana-wf audit compliance`` and ``dana-wf audit models``: the compliance report of a run or a period,
and the model inventory, both read from the audit log (docs/compliance.md).

Exit codes (cli/conventions.py): 0 the report is written and the log verified; 2 a bad option (no scope,
both scopes, a time that is not ISO 8601, an empty scope, a missing checkpoint directory or key); 3 the
report is written but a hash chain or a checkpoint failed verification (the report names what).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_CHAIN_BROKEN, EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.cli.times import SinceOpt, UntilOpt, time_option_us
from dana_workflows.core.settings import load_settings
from dana_workflows.sinks import checkpoints
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.audit_scope import AuditScope
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.compliance import CheckpointStatus, ComplianceReport, EmptyScope, build_report
from dana_workflows.sinks.model_inventory import ModelEntry, model_inventory

console = OutputConsole()
err = OutputConsole(stderr=True, soft_wrap=True)

AuditOpt = Annotated[
    str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN or chdb://.dwf/audit)")
]
WorkflowOpt = Annotated[str | None, typer.Option("--workflow", "-w", help="only this workflow")]


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    json = "json"


def scope_of(run_id: str | None, since: str | None, until: str | None, workflow: str | None) -> AuditScope:
    if run_id and (since or until):
        raise fail("name a run (--run-id) or a period (--since/--until), not both", EXIT_USAGE)
    if not run_id and not (since or until):
        raise fail("name a run (--run-id ID) or a period (--since T and/or --until T)", EXIT_USAGE)
    since_us = time_option_us(since, "--since")
    until_us = time_option_us(until, "--until")
    if since_us is not None and until_us is not None and since_us >= until_us:
        raise fail(f"--since {since} is not before --until {until}: the period is empty", EXIT_USAGE)
    return AuditScope(run_id=run_id, since_us=since_us, until_us=until_us, workflow=workflow)


def checkpoint_status(
    store: AuditStore, location: str | None, public_key: Path | None, workflows: list[str]
) -> CheckpointStatus:
    """`audit checkpoint verify` of the report's workflows against `location`; none given, none checked."""
    from dana_workflows.sinks.checkpoint_keys import CheckpointKeyError, key_to_verify
    from dana_workflows.sinks.checkpoint_storage import StorageError, open_storage

    if location is None:
        return CheckpointStatus()
    parts = urlsplit(location)
    if parts.scheme in ("", "file"):
        directory = Path(parts.path if parts.scheme == "file" else location).expanduser()
        if not directory.is_dir():
            raise fail(
                f"--checkpoints {location}: no such directory; give the directory "
                "`dana-wf audit checkpoint create --to` exported to",
                EXIT_USAGE,
            )
    settings = load_settings()
    try:
        public = key_to_verify(public_key, settings)
        storage = open_storage(
            location,
            s3_endpoint=settings.checkpoint_s3_endpoint,
            retention_days=settings.checkpoint_retention_days,
        )
    except (CheckpointKeyError, StorageError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    try:
        result = checkpoints.verify(store, storage, public, workflows)
    except (checkpoints.CheckpointError, StorageError) as exc:
        raise fail(str(exc)) from None
    return CheckpointStatus(
        location=location,
        checkpoints=result.checkpoints,
        rows_committed=result.rows_committed,
        findings=[f"{f.kind}: {f.workflow}: {f.message}" for f in result.findings],
    )


def warn_flagged(entries: list[ModelEntry]) -> None:
    """Loud, on stderr: a model used but not registered (or as an unregistered version)."""
    for entry in entries:
        if entry.flagged:
            err.print(
                f"[bold red]warning:[/bold red] model {escape(entry.id)} is used ({entry.runs} runs) but "
                f"{entry.status}: add it to the model registry (settings `models`, docs/compliance.md)",
                markup=True,
            )


def compliance(
    run_id: Annotated[str | None, typer.Option("--run-id", help="report on this run")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="html, pdf or json")] = ReportFormat.html,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here (pdf: required)")] = None,
    checkpoints_at: Annotated[
        str | None,
        typer.Option("--checkpoints", help="verify against the checkpoints exported here (DIR or s3://)"),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the auditors' public key (default: from the signing key)")
    ] = None,
    audit: AuditOpt = None,
) -> None:
    """A compliance report of one run or a period: EU AI Act Article 12 logging fields, overrides,
    recovery, model inventory, hash chains and checkpoint status, as HTML, PDF or JSON."""
    scope = scope_of(run_id, since, until, workflow)
    if format is ReportFormat.pdf and out is None:
        raise fail("--format pdf writes a file: name it with -o FILE.pdf", EXIT_USAGE)
    store = open_audit_for_reading(audit)
    try:
        report = _build(store, scope, checkpoints_at, public_key)
    except AuditStoreError as exc:  # the server refused or dropped a query: one line, no traceback
        raise fail(str(exc)) from None
    finally:
        store.close()
    _write(report, format, out)
    warn_flagged(report.inventory)
    if not report.ok:
        err.print("[red]the audit log failed verification: the report names each finding[/red]", markup=True)
        raise typer.Exit(EXIT_CHAIN_BROKEN)


def _build(
    store: AuditStore, scope: AuditScope, checkpoints_at: str | None, public_key: Path | None
) -> ComplianceReport:
    from dana_workflows.processors.recovery_report import recovery_rows, summarize

    registry = load_settings().models
    recovery = summarize(recovery_rows(store, scope)).rows()
    try:
        report = build_report(store, scope, registry, recovery=recovery)
    except EmptyScope as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    workflows = sorted({use.workflow for use in report.uses})
    report.checkpoints = checkpoint_status(store, checkpoints_at, public_key, workflows)
    return report


def _write(report: ComplianceReport, format: ReportFormat, out: Path | None) -> None:
    from dana_workflows.sinks.compliance_render import render_html, render_json, write_pdf
    from dana_workflows.sinks.report_html import PdfUnavailable

    if format is ReportFormat.pdf:
        assert out is not None  # checked before the store was opened
        try:
            write_pdf(report, out)
        except PdfUnavailable as exc:
            raise fail(str(exc)) from None
    else:
        text = render_json(report) if format is ReportFormat.json else render_html(report)
        if out is None:
            console.print_text(text, end="")
            return
        out.write_text(text)
    err.print(f"{format.value.upper()} compliance report of the {report.scope} written to {out}")


def models(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: WorkflowOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object per model")] = False,
    audit: AuditOpt = None,
) -> None:
    """The model inventory: every model the audit log records a use of (first and last use, versions,
    provider) with its owner and risk tier from the registry; unregistered models are flagged."""
    scope = AuditScope(
        since_us=time_option_us(since, "--since"),
        until_us=time_option_us(until, "--until"),
        workflow=workflow,
    )
    store = open_audit_for_reading(audit)
    try:
        entries = model_inventory(store, scope, load_settings().models)
    except AuditStoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if json_out:
        for entry in entries:
            typer.echo(json.dumps(entry.as_dict(), sort_keys=True))
    else:
        _print_table(entries)
    warn_flagged(entries)


def _print_table(entries: list[ModelEntry]) -> None:
    if not entries:
        console.print("no model use in the audit log, and no model registered (settings `models`)")
        return
    table = Table()
    for column in (
        "model",
        "version",
        "provider",
        "owner",
        "risk tier",
        "status",
        "first use",
        "last use",
        "runs",
    ):
        table.add_column(column)
    for entry in entries:
        shown = entry.as_dict()
        status = f"[bold red]{entry.status.upper()}[/bold red]" if entry.flagged else entry.status
        cells = [
            entry.id,
            ", ".join(entry.versions) or entry.registered_version,
            ", ".join(entry.providers) or entry.registered_provider,
            entry.owner,
            entry.risk_tier,
        ]
        times = [shown["first_use"] or "", shown["last_use"] or "", str(entry.runs)]
        table.add_row(*map(escape, cells), status, *times)  # names are text, never rich markup
    console.print(table)
