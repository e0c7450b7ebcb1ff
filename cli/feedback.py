"""`dana-wf feedback RUN_ID --step STEP --correct|--wrong`: a person's verdict on an llm step's answer,
recorded in the audit log, where `dana-wf efficiency calibrate` reads it (docs/efficiency.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.stores import reachable_or_exit
from dana_workflows.core.clock import wall_clock_us

console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns
err = Console(stderr=True, soft_wrap=True)


def feedback(
    run_id: Annotated[str, typer.Argument(help="the run (one event's journey) the answer belongs to")],
    step: Annotated[str, typer.Option("--step", help="the llm step's name")],
    correct: Annotated[bool, typer.Option("--correct/--wrong", help="was the step's answer right?")],
    note: Annotated[str, typer.Option(help="why, in a few words")] = "",
    by: Annotated[str, typer.Option(help="who reviewed it")] = "",
    audit: Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")] = None,
) -> None:
    """Record a person's verdict on an llm step's answer (read by `dana-wf efficiency calibrate`)."""
    from dana_workflows.core.settings import load_settings
    from dana_workflows.processors.efficiency.audit_log import TABLE, append_row
    from dana_workflows.processors.efficiency.records import FEEDBACK_KIND
    from dana_workflows.sinks.audit_model import sql_string
    from dana_workflows.streams.app_builder import open_audit_store

    target = audit or load_settings().audit_dsn
    try:
        store = open_audit_store(target)
    except Exception as exc:
        raise fail(f"cannot open the audit store: {exc}") from None
    store = reachable_or_exit(store, target)  # a server that is down: the audit readers' one line
    needle = sql_string('"step":"' + step + '"')  # the step as its efficiency summary names it
    try:
        found = store.query(
            f"SELECT workflow, workflow_version FROM {TABLE} WHERE run_id = {sql_string(run_id)} "
            f"AND position(details, 'dwf.eff') > 0 AND position(details, {needle}) > 0 LIMIT 1"
        ).rows
        if not found:
            raise fail(
                f"run {run_id!r} has no answer of an llm step {step!r} in the audit log; "
                "check the run id (dana-wf audit sql) and the step name",
                EXIT_USAGE,
            )
        workflow, version = str(found[0][0]), int(found[0][1])
        details = {"run_id": run_id, "step": step, "correct": correct, "note": note, "by": by}
        append_row(
            store,
            workflow,
            version,
            f"{workflow}.feedback",
            FEEDBACK_KIND,
            step,
            details,
            wall_clock_us(),
            decision="correct" if correct else "wrong",
        )
    except typer.Exit:
        raise
    except Exception as exc:
        raise fail(f"cannot record the feedback: {exc}") from None
    finally:
        store.close()
    console.print(
        f"recorded: {run_id} {step} {'correct' if correct else 'wrong'} (chain {workflow}.feedback)"
    )
