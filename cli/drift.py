"""`dana-wf drift baseline | report`: pin a reference distribution; draw the scores over time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.cli.specs import input_file_or_exit, pipeline_or_exit
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.drift.baseline import BaselineBuilder, write_baseline
from dana_workflows.drift.observer import DriftObserver, DriftReport
from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.sinks.audit_model import store_database

app = typer.Typer(no_args_is_help=True, help="Drift baselines and reports.")
console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns


class DriftMetric(StrEnum):
    psi = "psi"
    js = "js"


class _BaselineCollector(DriftObserver):
    """Runs where the drift observer runs, but pools every event's values into one baseline."""

    def __init__(self, observer: DriftObserver, builder: BaselineBuilder) -> None:
        self.__dict__.update(observer.__dict__)
        self.builder = builder

    def observe(
        self, values: Mapping[str, Any], input_payload: Mapping[str, Any], produced_at: int, clock_us: int
    ) -> DriftReport:
        self.builder.add(values)
        return DriftReport()

    def flush(self, clock_us: int) -> DriftReport:
        return DriftReport()


@app.command()
def baseline(
    spec: Annotated[Path, typer.Argument(help="workflow spec with drift monitors")],
    input: Annotated[Path, typer.Option("--input", "-i", help="reference events (JSON lines)")],
    out: Annotated[Path, typer.Option(help="baseline file to write")] = Path("baseline.json"),
) -> None:
    """Run the workflow over reference events and pin each monitor's distribution to a file."""
    from dana_workflows.core.settings import load_settings
    from dana_workflows.streams.app_builder import topology_for
    from dana_workflows.streams.local.runtime import LocalRuntime

    pipeline = _monitored_or_exit(spec)
    input_file_or_exit(input)
    runtime = LocalRuntime(pipeline, topology_for(pipeline, load_settings()), None, lambda rows: None)
    assert runtime.drift is not None
    builder = BaselineBuilder(pipeline.workflow.name, pipeline.workflow.drift)
    runtime.drift = _BaselineCollector(runtime.drift, builder)
    asyncio.run(runtime.run(input.read_text(encoding="utf-8").splitlines()))
    write_baseline(out, builder.build(source=str(input)))
    console.print(
        f"baseline of {builder.events} events for {len(pipeline.workflow.drift.monitors)} monitors "
        f"written to {out}; reference it with `baseline: {out.name}` on a monitor"
    )


@app.command()
def report(
    spec: Annotated[Path, typer.Argument(help="workflow spec")],
    svg: Annotated[Path, typer.Option(help="chart to write")] = Path("drift.svg"),
    records: Annotated[Path | None, typer.Option(help="a drift records file (dwf.<wf>.drift.jsonl)")] = None,
    audit: Annotated[
        str | None, typer.Option("--audit", help="read drift rows from this audit store instead")
    ] = None,
    dsn: Annotated[str | None, typer.Option("--dsn", hidden=True)] = None,  # old spelling of --audit
    metric: Annotated[DriftMetric, typer.Option(help="the divergence to chart")] = DriftMetric.psi,
) -> None:
    """The score per window over time: an SVG chart with the thresholds, and terminal sparklines."""
    from dana_workflows.drift.report import terminal_summary, write_svg

    ir = _monitored_or_exit(spec).workflow  # a spec without monitors has no records to wait for
    rows = _records_from_file(records) if records else _records_from_audit(ir.name, audit or dsn)
    if not rows:
        console.print(
            f"[red]error:[/red] no drift records for {ir.name}; run the workflow first "
            "(`dana-wf run ...` writes them to the audit and to dwf.<wf>.drift.jsonl)"
        )
        raise typer.Exit(1)
    write_svg(rows, svg, metric=metric.value, title=f"{ir.name}: drift ({metric.value}) per window")
    console.print(terminal_summary(rows, metric=metric.value), markup=False, highlight=False)
    console.print(f"chart written to {svg}")


_RECORDS_FILE = "--records takes the drift records a run writes (dwf.<wf>.drift.jsonl), not its events"


def _monitored_or_exit(spec: Path) -> Pipeline:
    """The spec's pipeline when it declares drift monitors; else one line and exit 1 (a spec that cannot be
    read or used: exit 2, cli/specs.py)."""
    pipeline = pipeline_or_exit(spec)
    if not pipeline.workflow.drift.monitors:
        raise fail(f"{spec} declares no drift monitors (add a `drift:` section, docs/drift.md)")
    return pipeline


def _records_from_file(path: Path) -> list[dict[str, Any]]:
    """The drift records of a file, one JSON object a line; a line that is not one (an events file given
    by mistake, a cut line) is the user's file to fix: one line naming it, exit 2, not a traceback."""
    from dana_workflows.drift.report import collect

    rows = []
    for n, line in enumerate(input_file_or_exit(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(f"{path} line {n}: not JSON ({exc.msg}); {_RECORDS_FILE}", EXIT_USAGE) from None
        if not isinstance(row, dict):
            raise fail(f"{path} line {n}: not a JSON object; {_RECORDS_FILE}", EXIT_USAGE)
        rows.append(row)
    try:  # what the report reads of each record (drift/report.collect), before any file is written
        collect(rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(
            f"{path}: not drift records ({type(exc).__name__}: {exc}); {_RECORDS_FILE}", EXIT_USAGE
        ) from None
    return rows


def _records_from_audit(workflow: str, dsn: str | None) -> list[dict[str, Any]]:
    store = open_audit_for_reading(dsn)  # a store that is not there or does not answer: one line
    try:
        db = store_database(store)
        safe = workflow.replace("'", "")
        res = store.query(
            f"SELECT details FROM {db}.events WHERE workflow = '{safe}' AND kind = 'drift' ORDER BY seq"
        )
    finally:
        store.close()
    return [json.loads(r[0]) for r in res.rows]
