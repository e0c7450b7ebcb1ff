"""`dana-wf recovery report`: each recovery rung's attempts, successes and success rate per step and
error class, read from the audit store (docs/recovery.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.cli.times import SinceOpt, UntilOpt, time_option_us
from dana_workflows.sinks.audit_scope import AuditScope

app = typer.Typer(no_args_is_help=True, help="Recovery ladders: how well each rung works (docs/recovery.md).")
console = OutputConsole()

AuditOpt = Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")]


@app.command()
def report(
    run_id: Annotated[str | None, typer.Option("--run-id", help="only this event's run")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", help="only this workflow")] = None,
    audit: AuditOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Attempts, successes and success rate of each rung, per workflow, step and error class."""
    from dana_workflows.processors.recovery_report import recovery_rows, summarize

    if run_id and (since or until):
        raise fail("name a run (--run-id) or a period (--since/--until), not both", EXIT_USAGE)
    scope = AuditScope(
        run_id=run_id,
        since_us=time_option_us(since, "--since"),
        until_us=time_option_us(until, "--until"),
        workflow=workflow,
    )
    store = open_audit_for_reading(audit)
    try:
        result = summarize(recovery_rows(store, scope))
    except Exception as exc:  # a server that went away mid-query: one line, no traceback
        raise fail(f"cannot read the audit store: {exc}") from None
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    rows = result.rows()
    if not rows:
        console.print(
            f"no recovery attempts in {scope.describe() if (run_id or since or until) else 'the audit log'}"
        )
        return
    table = Table(title=f"recovery ladders: {len(result.events)} failed step runs")
    for column in ("workflow", "step", "error class", "rung"):
        table.add_column(column)
    for column in ("attempts", "successes", "success rate"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["workflow"],
            r["step"],
            r["error_class"],
            r["rung"],
            str(r["attempts"]),
            str(r["successes"]),
            f"{r['success_rate']:.1%}",
        )
    console.print(table)
