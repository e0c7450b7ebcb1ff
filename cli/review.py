"""`dana-wf review list | show | decide`: the events a step sent to human review, and a reviewer's decision,
recorded as an audited override, after which the event continues the workflow (docs/review.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.llm_script import LLMScriptOpt, refuse_with_broker, scripted_llm
from dana_workflows.cli.resume_run import (
    AuditOpt,
    BrokerOpt,
    OutOpt,
    PrefixOpt,
    Scope,
    at_tail,
    continue_events,
    describe_outcomes,
    histories,
    open_writer,
    sent_already,
)
from dana_workflows.core.clock import wall_clock_us
from dana_workflows.processors.pipeline import REVIEW
from dana_workflows.processors.resume import (
    OVERRIDE,
    ResumeError,
    after_step,
    apply_override,
    check_complete,
    output_fields,
    parse_decision,
)
from dana_workflows.processors.run_history import RunHistory, decision_of, review_refusal
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.local.resume import ResumeItem

app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Human review of events a step sent there."
)
console = OutputConsole()

SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML): the current version continues events")]
EventArg = Annotated[str, typer.Argument(help="the event's run id (dana-wf review list shows them)")]
LISTING = "dana-wf review list"


@app.command("list")
def review_list(
    spec: SpecArg,
    out: OutOpt = Path(".dwf/out"),
    broker: BrokerOpt = None,
    prefix: PrefixOpt = None,
    audit: AuditOpt = None,
) -> None:
    """The events waiting for a decision (and those decided already)."""
    scope = Scope.open(spec, out, broker, prefix)
    columns = ("event", "step", "error class", "reason", "status")
    console.print(scope.table(REVIEW, "events to review", audit, columns, _review_row))


def _review_row(run_id: str, env: Envelope, history: RunHistory | None) -> list[str]:
    review = env.provenance.get("review") or {}
    decided = decision_of(history)
    if decided is not None:
        status = f"decided: {decided.decision}"
    else:
        status = "waiting" if review_refusal(history, run_id) is None else "-"
    return [run_id, env.step, str(review.get("error_class", "")), str(review.get("reason", "")), status]


@app.command("show")
def review_show(
    spec: SpecArg,
    event: EventArg,
    out: OutOpt = Path(".dwf/out"),
    broker: BrokerOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """One event under review: its payload, why it is there, and what a decision may set."""
    scope = Scope.open(spec, out, broker, prefix)
    env = scope.item(REVIEW, event, LISTING)
    # what a reviewer decides on; not the chain position or times, which a local review file does not keep
    shown = {
        "event": event,
        "workflow": f"{env.workflow} v{env.workflow_version}",
        "step": env.step,
        "payload": env.payload,
        "provenance": env.provenance,
    }
    console.print_text(json.dumps(shown, indent=2, default=str))
    node = scope.pipeline.nodes.get(env.step)
    if node is not None:
        fields = output_fields(scope.pipeline, node)
        listed = ", ".join(f"{n}:{f.type}" for n, f in fields.items()) or "none (decide keep)"
        console.print_text(f"a decision may set: {listed}")


@app.command("decide")
def review_decide(
    spec: SpecArg,
    event: EventArg,
    decision: Annotated[
        list[str],
        typer.Option("--decision", "-d", help="field=value (repeat it), a JSON object of fields, or keep"),
    ],
    reason: Annotated[str, typer.Option("--reason", help="why: recorded in the audit")],
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="who decides (default: $USER)")] = None,
    out: OutOpt = Path(".dwf/out"),
    broker: BrokerOpt = None,
    prefix: PrefixOpt = None,
    audit: AuditOpt = None,
    llm_script: LLMScriptOpt = None,
) -> None:
    """Decide an event under review: the step's output is replaced by the decision, the override is
    audited (who, when, why, before and after) and the event continues the workflow from that step."""
    import getpass

    refuse_with_broker(llm_script, broker)
    scope = Scope.open(spec, out, broker, prefix)
    pipeline = scope.pipeline
    env = scope.item(REVIEW, event, LISTING)
    if not reason.strip():
        raise fail("--reason is empty: say why (it is recorded in the audit)", EXIT_USAGE)
    node = pipeline.nodes.get(env.step)
    if node is None:
        raise fail(
            f"step '{env.step}' is not in version {pipeline.workflow.version} of the workflow: "
            "decide with the spec the event was reviewed under",
            EXIT_USAGE,
        )
    try:
        fields = output_fields(pipeline, node)
        after = parse_decision(decision, fields, node.path)
        check_complete(fields, env.payload, after, node.path)
    except ResumeError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    store = open_writer(audit, scope.settings)
    try:
        history = histories(store, scope.workflow, [event]).get(event)
        refusal = review_refusal(history, event)
        if refusal is None and event in sent_already(scope.where, scope.topology, scope.settings, OVERRIDE):
            refusal = f"event {event} was decided already (sent to the worker, not finished yet)"
        if refusal is not None:
            raise fail(refusal, EXIT_USAGE)
        assert history is not None
        at_tail(env, history, pipeline.workflow.version)
        env.provenance.pop("review", None)
        row = apply_override(
            env, node, after, reviewer=reviewer or getpass.getuser(), reason=reason, now_us=wall_clock_us()
        )
        try:
            point = after_step(pipeline, node, env.payload)
        except ResumeError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        item = ResumeItem(env, row, point)
        with scripted_llm(llm_script, scope.settings):
            outcomes = continue_events(
                pipeline, scope.topology, scope.settings, scope.where, store, [item], wall_clock_us
            )
    finally:
        store.close()
    console.print(f"decided: {event} at {node.path}: {row.decision} (audit row {row.seq})", highlight=False)
    for line in describe_outcomes(outcomes, scope.topology):
        console.print(f"  {line}", highlight=False)
