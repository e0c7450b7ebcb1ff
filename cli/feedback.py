"""`dana-wf feedback RUN_ID --step STEP --correct|--wrong`: a person's verdict on an llm step's answer,
recorded in the audit log, where `dana-wf efficiency calibrate` reads it (docs/efficiency.md)."""

from __future__ import annotations

import json
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
    correct: Annotated[bool, typer.Option("--correct", help="the step's answer was right")] = False,
    wrong: Annotated[bool, typer.Option("--wrong", help="the step's answer was wrong")] = False,
    note: Annotated[str, typer.Option(help="why, in a few words")] = "",
    by: Annotated[str, typer.Option(help="who reviewed it")] = "",
    audit: Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")] = None,
) -> None:
    """Record a person's verdict on an llm step's answer (read by `dana-wf efficiency calibrate`)."""
    from dana_workflows.core.settings import load_settings
    from dana_workflows.processors.efficiency.audit_log import TABLE, append_row
    from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY
    from dana_workflows.processors.efficiency.records import FEEDBACK_KIND
    from dana_workflows.sinks.audit_model import sql_string
    from dana_workflows.streams.app_builder import open_audit_store

    if correct == wrong:  # two flags, not click's --correct/--wrong, whose last one silently won
        raise fail(
            "--correct and --wrong together: give one of them"
            if correct
            else "give --correct or --wrong (was the step's answer right?)",
            EXIT_USAGE,
        )
    target = audit or load_settings().audit_dsn
    try:
        store = open_audit_store(target)
    except Exception as exc:
        raise fail(f"cannot open the audit store: {exc}") from None
    store = reachable_or_exit(store, target)  # a server that is down: the audit readers' one line
    try:
        answered = store.query(
            f"SELECT workflow, workflow_version, details FROM {TABLE} WHERE run_id = {sql_string(run_id)} "
            f"AND position(details, {sql_string(SUMMARY_KEY)}) > 0"
        ).rows
        by_step = {_summary_step(str(details)): (w, v) for w, v, details in answered}
        by_step.pop(None, None)  # a row that names dwf.eff without a summary (a budget refusal)
        if step not in by_step:
            raise fail(_no_answer(run_id, step, {s for s in by_step if s is not None}), EXIT_USAGE)
        workflow, version = str(by_step[step][0]), int(by_step[step][1])
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


def _summary_step(details: str) -> str | None:
    """The llm step whose efficiency summary a row's details hold (None: not a summary)."""
    from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY

    summary = json.loads(details).get(SUMMARY_KEY)
    return str(summary.get("step")) if isinstance(summary, dict) else None


def _no_answer(run_id: str, step: str, steps: set[str]) -> str:
    """The refusal of a run or step the audit log has no answer for, with the closest of the run's steps."""
    from dana_workflows.workflow.spec_support import suggest

    if not steps:
        return (
            f"run {run_id!r} has no answer of an llm step {step!r} in the audit log; check the run id "
            "(dana-wf audit sql)"
        )
    return f"run {run_id!r} has no answer of an llm step {step!r} (fix: {suggest(step, steps)})"
