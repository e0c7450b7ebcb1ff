"""`dana-wf efficiency report | calibrate`: calls and tokens against the naive baseline; bypass thresholds
from recorded traffic (docs/efficiency.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.cli.times import SinceOpt, time_option_us

app = typer.Typer(no_args_is_help=True, help="LLM call efficiency: reports and bypass calibration.")
console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns
err = Console(stderr=True, soft_wrap=True)

AuditOpt = Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")]


@app.command()
def report(
    run: Annotated[
        str | None, typer.Argument(help="a run id, or the start of run ids (all when omitted)")
    ] = None,
    since: SinceOpt = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", help="only this workflow")] = None,
    audit: AuditOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Calls and tokens of llm steps, against what the naive protocol spends on the same events."""
    from dana_workflows.processors.efficiency.audit_log import efficiency_rows, summaries
    from dana_workflows.processors.efficiency.monitor import MECHANISMS, PHASES, totals_of

    start = time_option_us(since, "--since")
    store = open_audit_for_reading(audit)
    try:
        totals = totals_of(summaries(efficiency_rows(store, workflow=workflow, run=run, since_us=start)))
    except Exception as exc:
        raise fail(f"cannot read the audit store: {exc}") from None
    finally:
        store.close()
    figures = totals.to_json()
    naive = totals.naive_calls
    figures["ratio_to_naive"] = round(totals.total_calls / naive, 4) if naive else None
    if json_out:
        typer.echo(json.dumps(figures, sort_keys=True))
        return
    if not totals.events:
        console.print("no llm step events in the audit log for that selection")
        return
    ratio = f"{figures['ratio_to_naive']:.3f}" if naive else "-"
    console.print(
        f"{totals.events} llm step events: {totals.total_calls} calls, {totals.tokens} tokens; "
        f"the naive protocol: {naive} calls (ratio {ratio}); high-risk bypassed: {totals.high_bypassed}"
    )
    table = Table(title="calls by phase")
    table.add_column("phase")
    table.add_column("calls", justify="right")
    for phase in PHASES:
        table.add_row(phase, str(totals.calls.get(phase, 0)))
    console.print(table)
    saved = Table(title="calls avoided, by mechanism (naive-equivalent)")
    saved.add_column("mechanism")
    saved.add_column("calls", justify="right")
    saved.add_column("share of savings", justify="right")
    total_saved = sum(totals.avoided.values()) or 1
    for mechanism in MECHANISMS:
        n = totals.avoided.get(mechanism, 0)
        saved.add_row(mechanism, str(n), f"{n / total_saved:.1%}")
    console.print(saved)
    console.print(
        f"bypass decisions: {dict(sorted(totals.decisions.items()))}; budget alerts: {totals.budget_alerts}"
    )


@app.command()
def calibrate(
    spec: Annotated[Path, typer.Argument(help="the workflow spec")],
    since: SinceOpt = None,
    bound: Annotated[
        float | None, typer.Option(help="bypass error bound (default: the spec's, else 0.01)")
    ] = None,
    level: Annotated[
        float | None, typer.Option(help="confidence level (default: the spec's, else 0.95)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="calibration folder (default: <DWF_DATA_DIR>/calibration)")
    ] = None,
    audit: AuditOpt = None,
) -> None:
    """Bypass thresholds per step and tier from recorded traffic and feedback; writes the next version
    and records it in the audit log."""
    from dana_workflows.cli.specs import spec_or_exit
    from dana_workflows.core.settings import load_settings
    from dana_workflows.processors.efficiency.audit_log import CALIBRATION_KIND, append_row, efficiency_rows
    from dana_workflows.processors.efficiency.calibration import (
        CalibrationError,
        next_version,
        save_calibration,
    )
    from dana_workflows.processors.efficiency.calibration import calibrate as compute
    from dana_workflows.processors.efficiency.records import records_from_rows
    from dana_workflows.workflow.spec_efficiency import llm_steps_of

    ir = spec_or_exit(spec)

    steps = llm_steps_of(ir.steps)
    if not steps:
        raise fail(f"{spec}: the workflow has no llm step to calibrate", EXIT_USAGE)
    declared = steps[0].efficiency.bypass
    start = time_option_us(since, "--since")
    folder = out or load_settings().data_dir / "calibration"
    store = open_audit_for_reading(audit)
    try:
        rows = list(efficiency_rows(store, workflow=ir.name, since_us=start))
        records = records_from_rows(rows)
        version = next_version(folder, ir.name)
        now = datetime.now(UTC)
        try:
            cal = compute(
                ir.name,
                records,
                bound=bound if bound is not None else declared.error_bound,
                level=level if level is not None else declared.confidence_level,
                version=version,
                source={"since": since, "rows": len(rows), "records": len(records)},
                created_at=now.isoformat(timespec="seconds"),
            )
        except CalibrationError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        path = save_calibration(cal, folder)
        details = {"version": cal.version, "sha256": cal.digest, "file": str(path), **cal.to_json()}
        append_row(
            store,
            ir.name,
            ir.version,
            f"{ir.name}.calibration",
            CALIBRATION_KIND,
            "calibration",
            details,
            int(now.timestamp() * 1_000_000),
            decision=f"v{cal.version}",
        )
    except typer.Exit:
        raise
    except Exception as exc:
        raise fail(f"cannot calibrate from the audit store: {exc}") from None
    finally:
        store.close()
    console.print(f"calibration v{cal.version} of {ir.name}: {len(records)} judged answers -> {path}")
    for step, tiers in sorted(cal.steps.items()):
        for tier, t in sorted(tiers.items()):
            shown = "never bypass" if t.threshold is None else f"bypass at confidence >= {t.threshold:g}"
            console.print(
                f"  {step}/{tier}: {shown} ({t.bypassed} of {t.records} answers, {t.errors} wrong, "
                f"upper bound {t.upper})"
            )
    if not cal.steps:
        console.print(
            "  no judged answers yet: every answer will be verified (run in naive mode, or give feedback)"
        )
