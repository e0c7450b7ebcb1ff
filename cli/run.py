"""`dana-wf run`: the local runtime with a progress bar, an audit store and a summary at the end."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_CHAIN_BROKEN, EXIT_OK
from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.masking import MASK, mask_text
from dana_workflows.core.settings import Settings
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import REVIEW, Pipeline
from dana_workflows.sinks.audit_model import AuditRow, AuditStore, events_table
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import open_audit_store, topology_for
from dana_workflows.streams.gc_tuning import settled_collector
from dana_workflows.streams.local.input_lines import read_input_lines as read_input_lines
from dana_workflows.streams.local.inserter import BackgroundInserter
from dana_workflows.streams.local.outputs import OutputFiles
from dana_workflows.streams.local.reruns import StoredHeads, stored_heads
from dana_workflows.streams.local.runtime import LocalRuntime, RunSummary
from dana_workflows.streams.tracing import tracing_for

PROGRESS_MIN_EVENTS = 2000


async def run_local(
    pipeline: Pipeline,
    input_path: Path,
    out_dir: Path,
    *,
    fmt: str,
    settings: Settings,
    audit_dsn: str | None,
    console: Console,
    quiet: bool = False,
) -> int:
    lines = read_input_lines(input_path)
    topo = topology_for(pipeline, settings)
    store: AuditStore | None = open_audit_store(audit_dsn, writer=True) if audit_dsn else None
    written: list[AuditRow] = []  # only this run's rows, to verify them once written
    inserter = BackgroundInserter(store) if store is not None else None

    def sink(rows: Sequence[AuditRow]) -> None:
        if inserter is not None:
            inserter.submit(rows)
        written.extend(rows)

    try:
        if store is not None:
            await asyncio.to_thread(store.ensure_schema)
        ctx = StepContext(clock=wall_clock_us, settings=settings)
        from dana_workflows.streams.local.extras import attach_extras

        closers = attach_extras(pipeline, ctx, settings)
        tracing = tracing_for(settings)  # spans of the same rows, over OTLP (DWF_OTLP_ENDPOINT)
        runtime = LocalRuntime(
            pipeline,
            topo,
            OutputFiles(out_dir, topo, fmt),
            sink if tracing is None else tracing.sink(sink),
            ctx,
            audit_batch=settings.audit_batch_size,
        )
        heads = StoredHeads()
        if store is not None:  # a rerun into this store: new run ids, the drift chain continued
            heads = await asyncio.to_thread(stored_heads, store, pipeline.workflow.name)
            runtime.continue_from(heads)
        completed = False
        try:
            # the run keeps its rows alive until the chain is verified: young collections over them
            # are its cost, so the collector is settled for the run and put back after (gc_tuning.py)
            with settled_collector():
                if quiet or len(lines) < PROGRESS_MIN_EVENTS:
                    summary = await runtime.run(lines)
                else:
                    with Progress(
                        TextColumn("[bold]{task.description}"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        TimeRemainingColumn(),
                        console=console,
                        transient=True,
                    ) as bar:
                        task = bar.add_task(pipeline.workflow.name, total=len(lines))

                        def advance(i: int) -> None:  # every 256 events: per event it cost ~5% of the run
                            if i & 255 == 255:
                                bar.update(task, completed=i + 1)

                        summary = await runtime.run(lines, on_event=advance)
            completed = True
        finally:
            for close in closers:
                await close()
            if tracing is not None:
                tracing.close()
            if inserter is not None:
                # every batch is in the store before the summary says so, however long the store is
                # down; a run that failed anyway gives its audit rows half a minute
                inserter.close(give_up_after_s=None if completed else 30.0)
        chain_ok = verify_rows(written, heads.continued(pipeline.workflow.name)).ok
        if not quiet:
            print_summary(
                console, pipeline, summary, runtime.outputs, audit_dsn, chain_ok, settings.audit_dsn
            )
            usage = llm_usage(written)
            if usage is not None:
                console.print(usage.line(), highlight=False)
            if audit_dsn:
                print_report_hints(console, example_runs(written), audit_dsn, settings.audit_dsn)
        return EXIT_OK if chain_ok else EXIT_CHAIN_BROKEN
    finally:
        if store is not None:
            store.close()


STOPPED_REASONS_SHOWN = 5  # the most frequent; the rest are in `dlq list` / `review list`


def stopped_reasons(counts: Counter[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """(outcome, reason, events), most events first; reasons that differ only in their numbers (each
    event's token count, an id) are one row, shown by its most frequent wording."""
    totals: Counter[tuple[str, str]] = Counter()
    wording: dict[tuple[str, str], str] = {}
    for (boundary, reason), n in counts.most_common():
        key = (boundary, re.sub(r"\d+", "#", reason))
        wording.setdefault(key, reason)  # most_common first: the most frequent wording
        totals[key] += n
    return [(boundary, wording[(boundary, shape)], n) for (boundary, shape), n in totals.most_common()]


def print_summary(
    console: Console,
    pipeline: Pipeline,
    s: RunSummary,
    outputs: OutputFiles | None,
    audit_dsn: str | None,
    chain_ok: bool,
    default_dsn: str | None = None,
) -> None:
    wf = pipeline.workflow
    console.print(
        f"[bold]{wf.name}[/bold] v{wf.version}: {s.events} events in {s.seconds:.2f}s "
        f"({s.events_per_second:,.0f} events/s)"
    )
    if s.events == 0:  # an empty file runs (a script may feed one), but a person should not read tables of 0s
        console.print("[yellow]the input has no lines: nothing was run[/yellow]")
    t = Table(title="outcomes")
    t.add_column("outcome")
    t.add_column("events", justify="right")
    t.add_column("file")
    for boundary, n in sorted(s.outcomes.items()):
        path = outputs.paths.get(boundary) if outputs else None
        t.add_row(boundary, str(n), str(path) if path else "")
    console.print(t)
    if s.rejected_by_rule:
        r = Table(title="rejections by rule")
        r.add_column("rule")
        r.add_column("events", justify="right")
        for rule, n in s.rejected_by_rule.most_common():
            r.add_row(rule, str(n))
        console.print(r)
    if s.stopped_by_reason:  # why events stopped: one mistake (a model down, a budget) is one row
        reasons = stopped_reasons(s.stopped_by_reason)
        d = Table(title="dlq and review by reason")
        for col in ("outcome", "reason", "events"):
            d.add_column(col, justify="right" if col == "events" else "left")
        for boundary, reason, n in reasons[:STOPPED_REASONS_SHOWN]:
            d.add_row(boundary, escape(reason), str(n))
        console.print(d)
        if len(reasons) > STOPPED_REASONS_SHOWN:
            more = len(reasons) - STOPPED_REASONS_SHOWN
            console.print(f"  and {more} more reasons: dana-wf dlq list / dana-wf review list")
    for rule, n in s.errored_by_rule.most_common():
        if n * 2 > s.events:  # most events: almost always a type mistake (docs/changes.md)
            console.print(
                f"[yellow]rule {rule} could not be computed on {n} of {s.events} events[/yellow]: see the "
                "error in its rejections; `dana-wf validate` type-checks every expression before a run"
            )
    st = Table(title="steps")
    # "review" only when some step's recovery sent events there (docs/recovery.md): most workflows have none
    reviewed = any(x.counts[REVIEW] for x in s.steps.values())
    ends = ("emitted", "routed", "rejected", "dlq", *((REVIEW,) if reviewed else ()))
    for col in ("step", *ends, "ms"):
        st.add_column(col, justify="right" if col != "step" else "left")
    for name, stats in s.steps.items():
        st.add_row(name, *(str(stats.counts[end]) for end in ends), f"{stats.seconds * 1000:.0f}")
    console.print(st)
    if s.drift_windows or s.late_events:
        console.print(
            f"drift: {s.drift_windows} window records, {len(s.drift_alerts)} warnings/alerts, "
            f"{s.late_events} late events"
        )
        for line in s.drift_alerts[:10]:
            console.print(f"  [yellow]{line}[/yellow]", markup=True, highlight=False)
    shown = mask_text(audit_dsn) if audit_dsn else None  # a summary is pasted into tickets
    status = "[green]verified[/green]" if chain_ok else "[red]BROKEN[/red]"
    # --no-audit still builds every row and checks its chain in memory: not stored, rather than "disabled".
    # escape: a path may hold brackets rich would read as styles
    where = f"-> {escape(shown)}" if shown else "built, not stored (--no-audit)"
    console.print(f"audit: {s.audit_rows} rows {where}; hash chains {status}")
    if audit_dsn:
        console.print(f"  try: {audit_sql_hint(audit_dsn, default_dsn)}", markup=False, highlight=False)
        if shown != audit_dsn:
            console.print(
                f"  (the password is shown as {MASK}: put yours in its place, or set DWF_AUDIT_DSN)",
                markup=False,
                highlight=False,
            )


def audit_sql_hint(audit_dsn: str, default_dsn: str | None = None) -> str:
    """A first query of the run's store, as it can be pasted: the store's own database, and `--audit` when
    the store is not the one `audit sql` opens by default (None: it is)."""
    from dana_workflows.sinks.dsn import parse_dsn

    table = events_table(parse_dsn(audit_dsn))
    store = "" if default_dsn is None or audit_dsn == default_dsn else f" --audit '{mask_text(audit_dsn)}'"
    return f'dana-wf audit sql "SELECT kind, count() FROM {table} GROUP BY kind"{store}'


# The outcomes a first audit report is most often wanted for, in the order they are shown.
REPORTED_KINDS = ("rejected", "dlq", "completed")
_KIND_WORDS = {
    "rejected": "a rejected event",
    "dlq": "an event sent to dlq",
    "completed": "a completed event",
}


def example_runs(rows: Sequence[AuditRow]) -> dict[str, str]:
    """The first run id of each outcome kind in REPORTED_KINDS (one pass; a run is one event's journey)."""
    found: dict[str, str] = {}
    for row in rows:
        if row.kind in REPORTED_KINDS and row.kind not in found:
            found[row.kind] = row.run_id
            if len(found) == len(REPORTED_KINDS):
                break
    return found


def print_report_hints(console: Console, runs: dict[str, str], audit_dsn: str, default_dsn: str) -> None:
    """How to open the report of one event per outcome: the run ids a first `audit report` needs."""
    store = "" if audit_dsn == default_dsn else f" --audit '{mask_text(audit_dsn)}'"
    for kind in REPORTED_KINDS:
        if kind in runs:
            console.print(
                f"  report of {_KIND_WORDS[kind]}: dana-wf audit report {runs[kind]}{store}",
                markup=False,
                highlight=False,
            )
