"""`dana-wf dlq list | replay`: dead-lettered events, and running them again through the current version of
the workflow, once each, linked to their dlq record in the audit (docs/review.md)."""

from __future__ import annotations

from dataclasses import dataclass
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
    items_and_poison,
    open_writer,
    poison_line,
    sent_already,
)
from dana_workflows.cli.times import SinceOpt, UntilOpt, time_option_us
from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.processors.pipeline import DLQ, Pipeline
from dana_workflows.processors.resume import REPLAYED, ResumeError, mark_replayed, replay_point
from dana_workflows.processors.run_history import DLQ_KIND, RunHistory, replay_refusal
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.audit_scope import utc_text
from dana_workflows.streams.local.resume import ResumeItem

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Dead-lettered events: list and replay.")
console = OutputConsole()

SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML): the version replays run through")]


@dataclass(frozen=True, slots=True)
class Candidate:
    envelope: Envelope
    history: RunHistory | None
    dlq_row: AuditRow | None  # the event's last dlq row (its time decides --since/--until)

    @classmethod
    def of(cls, envelope: Envelope, history: RunHistory | None) -> Candidate:
        """The event with its last dlq row: the one place that row is looked up (list and replay)."""
        return cls(envelope, history, history.last_of(DLQ_KIND) if history is not None else None)


def _in_range(row: AuditRow | None, since: int | None, until: int | None) -> bool:
    if row is None:
        return False
    return (since is None or row.ts_us >= since) and (until is None or row.ts_us < until)


@app.command("list")
def dlq_list(
    spec: SpecArg,
    out: OutOpt = Path(".dwf/out"),
    broker: BrokerOpt = None,
    prefix: PrefixOpt = None,
    audit: AuditOpt = None,
) -> None:
    """The dead-lettered events, when and where each failed, and whether it was replayed."""
    scope = Scope.open(spec, out, broker, prefix)
    columns = ("event", "step", "dlq at", "error", "replayable")
    items, poison = items_and_poison(scope.where, scope.topology, DLQ, scope.settings)  # one read of a topic

    def row(run_id: str, env: Envelope, history: RunHistory | None) -> list[str]:
        return _dlq_row(scope.pipeline, run_id, env, history)

    console.print(scope.table(DLQ, "dead-lettered events", audit, columns, row, items))
    line = poison_line(scope.topology.topic(DLQ), poison)
    if line is not None:
        console.print(line)


def _dlq_row(pipeline: Pipeline, run_id: str, env: Envelope, history: RunHistory | None) -> list[str]:
    c = Candidate.of(env, history)
    replayable = _refusal(pipeline, c) is None  # what `dlq replay` would say
    error = str(env.provenance.get("error") or "")
    at = utc_text(c.dlq_row.ts_us) if c.dlq_row else ""
    return [run_id, env.step, at, error, "yes" if replayable else "no"]


@app.command("replay")
def dlq_replay(
    spec: SpecArg,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="a run id to replay (repeat it)")
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    out: OutOpt = Path(".dwf/out"),
    broker: BrokerOpt = None,
    prefix: PrefixOpt = None,
    audit: AuditOpt = None,
    llm_script: LLMScriptOpt = None,
) -> None:
    """Run dead-lettered events again through the current version of the workflow, by id or time range.

    Each event is replayed once: its ``replayed`` audit row links to the dlq record, and the event's
    journey continues on its own hash chain to exactly one new outcome."""
    refuse_with_broker(llm_script, broker)
    since_us, until_us = time_option_us(since, "--since"), time_option_us(until, "--until")
    if not event and since_us is None and until_us is None:
        raise fail("choose the events: --event ID (repeat it), or a time range --since/--until", EXIT_USAGE)
    scope = Scope.open(spec, out, broker, prefix)
    pipeline = scope.pipeline
    items = scope.items(DLQ)
    store = open_writer(audit, scope.settings)
    try:
        known = histories(store, scope.workflow, list(items))
        candidates = {run_id: Candidate.of(env, known.get(run_id)) for run_id, env in items.items()}
        chosen = choose(
            candidates, event or [], since_us, until_us, scope.where.describe(scope.topology, DLQ)
        )
        sent = sent_already(scope.where, scope.topology, scope.settings, REPLAYED)
        resumed = prepare(pipeline, chosen, sent, bool(event), wall_clock_us)
        with scripted_llm(llm_script, scope.settings):
            outcomes = continue_events(
                pipeline, scope.topology, scope.settings, scope.where, store, resumed, wall_clock_us
            )
    finally:
        store.close()
    console.print(
        f"replayed {len(resumed)} event(s) through {pipeline.workflow.name} v{pipeline.workflow.version}",
        highlight=False,
    )
    for line in describe_outcomes(outcomes, scope.topology):
        console.print(f"  {line}", highlight=False)
    dead_again = sorted(run_id for run_id, boundary in (outcomes or {}).items() if boundary == DLQ)
    if dead_again:  # each replay is its one chance: say so, and let a script see it (exit 1)
        raise fail(
            f"{len(dead_again)} replayed event(s) failed again and stay in dlq: {', '.join(dead_again)} (the "
            "replay ran the spec's current version; fix the step, then send these inputs again as new events)"
        )


def _refusal(pipeline: Pipeline, c: Candidate) -> str | None:
    """Why the event cannot be replayed (its history, or no step to run again: dead at ingest), or None."""
    refusal = replay_refusal(c.history, c.envelope.run_id)
    if refusal is None and c.dlq_row is not None:
        try:
            replay_point(pipeline, c.envelope, c.dlq_row.reason)
        except ResumeError as exc:
            return str(exc)
    return refusal


def choose(
    candidates: dict[str, Candidate], events: list[str], since: int | None, until: int | None, source: str
) -> list[Candidate]:
    """The candidates named by id (each must exist) or whose dlq time is in the range; none: an error."""
    if events:
        missing = [e for e in events if e not in candidates]
        if missing:
            raise fail(
                f"no dead-lettered event {', '.join(missing)} in {source}: see dana-wf dlq list", EXIT_USAGE
            )
        return [candidates[e] for e in dict.fromkeys(events)]
    chosen = [c for c in candidates.values() if _in_range(c.dlq_row, since, until)]
    if not chosen:
        raise fail(f"no dead-lettered events in that time range in {source}: nothing replayed", EXIT_USAGE)
    return chosen


def prepare(
    pipeline: Pipeline, chosen: list[Candidate], sent: dict[str, AuditRow], strict: bool, clock: Clock
) -> list[ResumeItem]:
    """The replays to run, each placed at its chain's tail after its ``replayed`` row. Named events
    (``strict``) that cannot be replayed stop the command before anything changes; in a time range they
    are skipped with a note, and a range with nothing left to replay is an error."""
    ready: list[tuple[Candidate, RunHistory, AuditRow]] = []
    refusals: list[str] = []
    for c in chosen:
        run_id = c.envelope.run_id
        refusal = _refusal(pipeline, c)
        if refusal is None and run_id in sent:
            refusal = f"event {run_id} was replayed already (sent to the worker, not finished yet)"
        if refusal is not None:
            refusals.append(refusal)
            continue
        assert c.history is not None and c.dlq_row is not None
        ready.append((c, c.history, c.dlq_row))
    if refusals and (strict or not ready):
        raise fail("; ".join(refusals) + ": nothing replayed", EXIT_USAGE)
    for note in refusals:
        console.print(f"skipped: {note}", highlight=False)
    items: list[ResumeItem] = []
    for c, history, dlq_row in ready:
        env = at_tail(c.envelope, history, pipeline.workflow.version)
        point = replay_point(pipeline, env, dlq_row.reason)
        env.provenance.pop("error", None)
        row = mark_replayed(env, dlq_row, clock(), pipeline.workflow.version)
        items.append(ResumeItem(env, row, point))
    return items
