"""Workflows from Python: run one in this process over events, or serve it as a Kafka worker.

    from dana_workflows.streams.embedded import run, serve

    result = run(claims, [{"claim_id": "C-1", ...}, ...])     # a DSL Workflow, a WorkflowIR, a spec path
    result.decisions[0].outcome, result.decisions[0].run_id   # out | rejected | dlq | a terminal branch
    serve(claims, broker="127.0.0.1:9092")                     # blocks until SIGTERM, like `dana-wf worker`

The same runtimes as `dana-wf run` and `dana-wf worker` (docs/dsl.md), so decisions and audit rows are
the ones the command line would give. The DSL lives in workflow/, below the runtimes, so the entry points
live here and take the workflow as an argument.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import Settings, load_settings
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import Pipeline, compile_pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.stores import check_server, open_writer
from dana_workflows.streams.app_builder import load_pipeline, open_audit_store, topology_for
from dana_workflows.streams.local.input_lines import read_input_lines
from dana_workflows.streams.local.outputs import OutputFiles
from dana_workflows.streams.local.runtime import LocalRuntime, RunSummary, collect_rows
from dana_workflows.streams.tracing import traced_store, tracing_for
from dana_workflows.workflow.ir import WorkflowIR


class Buildable(Protocol):
    """A DSL workflow (dana_workflows.workflow.dsl.Workflow): anything with build() -> WorkflowIR."""

    def build(self) -> WorkflowIR: ...


WorkflowLike = Buildable | WorkflowIR | Pipeline | str | Path
Events = Iterable[Mapping[str, Any] | str] | str | Path


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one event ended: its run (the audit's run id), the outcome, the payload and the reasons."""

    run_id: str
    outcome: str  # out | rejected | dlq | a terminal branch
    payload: dict[str, Any]
    reasons: tuple[str, ...]
    step: str


@dataclass
class RunResult:
    """Every event's decision in input order, the run's audit rows (hash-chained) and its summary."""

    decisions: list[Decision]
    audit_rows: list[AuditRow]
    summary: RunSummary
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def run_ids(self) -> list[str]:
        return [d.run_id for d in self.decisions]

    def with_outcome(self, outcome: str) -> list[Decision]:
        return [d for d in self.decisions if d.outcome == outcome]


class _Decisions(OutputFiles):
    """The local runtime's outputs, kept in memory as decisions instead of written to files."""

    def __init__(self) -> None:  # no directory: nothing is written
        self.decisions: list[Decision] = []
        self.paths = {}

    def write(self, boundary: str, env: Envelope) -> None:
        reasons = tuple(env.provenance.get("reasons") or ())
        if env.provenance.get("error"):
            reasons += (str(env.provenance["error"]),)
        self.decisions.append(Decision(env.run_id, boundary, dict(env.payload), reasons, env.step))

    def write_record(self, boundary: str, record: dict[str, Any]) -> None:
        return None  # drift window records: in the audit rows and the summary already

    def close(self) -> None:
        return None


def pipeline_of(workflow: WorkflowLike) -> Pipeline:
    """The compiled pipeline of a DSL workflow, an IR, a pipeline or a spec file."""
    if isinstance(workflow, Pipeline):
        return workflow
    if isinstance(workflow, str | Path):
        return load_pipeline(workflow)
    ir = workflow if isinstance(workflow, WorkflowIR) else workflow.build()
    return compile_pipeline(ir)


def event_lines(events: Events) -> list[str]:
    """JSON lines: a file's lines, or each mapping serialised (a string is taken as one line as it is)."""
    if isinstance(events, str | Path):
        return read_input_lines(Path(events))
    return [_line(number, e) for number, e in enumerate(events, start=1)]


def _line(number: int, event: Any) -> str:
    """One event as a JSON line; a TypeError naming the event's position and why when it cannot be one
    (json's own message names neither, and one such event stopped the whole run at the first bad one)."""
    if isinstance(event, str):
        return event
    if not isinstance(event, Mapping):
        raise TypeError(f"event {number}: a mapping or a JSON line is expected, got {type(event).__name__}")
    try:
        return json.dumps(dict(event))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"event {number}: {exc} (give JSON values: str, int, float, bool, None, lists and dicts; a date "
            "as an ISO string)"
        ) from None


async def run_async(
    workflow: WorkflowLike,
    events: Events,
    *,
    audit: str | None = None,
    settings: Settings | None = None,
) -> RunResult:
    """`run` for code that already has an event loop (a notebook, an async service)."""
    settings = settings or load_settings()
    pipeline = pipeline_of(workflow)
    lines = event_lines(events)
    if audit is not None:  # a server that is down: AuditStoreError with the CLI's line, before any call
        check_server(audit, elsewhere="audit=")
    rows: list[AuditRow] = []
    outputs = _Decisions()
    ctx = StepContext(clock=wall_clock_us, settings=settings)
    from dana_workflows.streams.local.extras import attach_extras

    closers = attach_extras(pipeline, ctx, settings)
    tracing = tracing_for(settings)
    sink = collect_rows(rows) if tracing is None else tracing.sink(collect_rows(rows))
    runtime = LocalRuntime(pipeline, topology_for(pipeline, settings), outputs, sink, ctx)
    try:
        summary = await runtime.run(lines)
    finally:
        for close in closers:
            await close()
        if tracing is not None:
            tracing.close()
    if audit is not None:
        _store(audit, rows)
    return RunResult(outputs.decisions, rows, summary, Counter(d.outcome for d in outputs.decisions))


def run(
    workflow: WorkflowLike,
    events: Events,
    *,
    audit: str | None = None,
    settings: Settings | None = None,
) -> RunResult:
    """Run `workflow` in this process over `events` (mappings, JSON lines, or a JSON-lines file).

    audit: a DSN (chdb://PATH, clickhouse://...) to store the audit rows in as well; they are always in
    the result; a ClickHouse server that does not answer raises AuditStoreError before the run. LLM steps
    reach the endpoint of the settings (DWF_LLM_*), as `dana-wf run` does."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running here: the usual case
        pass
    else:
        raise RuntimeError("run() was called inside a running event loop: use `await run_async(...)`")
    return asyncio.run(run_async(workflow, events, audit=audit, settings=settings))


def _store(dsn: str, rows: Sequence[AuditRow]) -> None:
    store = open_audit_store(dsn, writer=True)
    try:
        store.ensure_schema()
        store.insert(rows)
    finally:
        store.close()


def serve(
    workflow: WorkflowLike,
    *,
    broker: str | None = None,
    guarantee: str | None = None,
    prefix: str | None = None,
    partitions: int | None = None,
    audit: str | None = None,
    settings: Settings | None = None,
    metrics_port: int | None = None,
) -> int:
    """Serve `workflow` on Kafka until SIGTERM or SIGINT, as `dana-wf worker` does: one agent per group of
    steps, the audit stored by this worker unless `audit` is "" (then other workers store it). Returns the
    worker's exit code. Start several processes to share the partitions; on one machine give each its own
    `metrics_port` (0 picks a free one; default DWF_METRICS_PORT, 9108)."""
    from dana_workflows.streams.kafka.app import KafkaOptions
    from dana_workflows.streams.kafka.worker import run_worker

    settings = settings or load_settings()
    pipeline = pipeline_of(workflow)
    options = KafkaOptions.from_settings(
        settings,
        bootstrap=broker,
        guarantee=guarantee,
        partitions=partitions,
        prefix=prefix,
        metrics_port=metrics_port,
    )
    topology = topology_for(
        pipeline, settings.model_copy(update={"topic_prefix": options.prefix, "data_dir": options.data_dir})
    )
    # a DSN typo (DsnError) or a server down or refusing (AuditStoreError) is found before Kafka is touched
    store = None if audit == "" else open_writer(audit or settings.audit_dsn, elsewhere="audit=")
    return asyncio.run(run_worker(pipeline, topology, options, traced_store(store, settings)))
