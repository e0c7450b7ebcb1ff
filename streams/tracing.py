"""OpenTelemetry traces of a run, exported over OTLP/HTTP when DWF_OTLP_ENDPOINT is set.

The spans are made from the audit rows, as they reach the audit sink: the rows already carry every
transition's step, kind, decision, time and duration, and an llm step's row carries the call's GenAI
attributes (``gen_ai.*``, the names the audit uses). So the trace and the audit cannot disagree, and one
place makes spans for every runtime that writes rows. Per event (one run id): a root span ``event
<workflow>`` from `received` to the terminal row, a child span per transition named after its step, and
under an llm step's span a ``chat <model>`` client span with the GenAI attributes. Jaeger, Langfuse or
Phoenix show a run from the OTLP endpoint (docs/observability.md).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from dana_workflows.core.settings import Settings
from dana_workflows.sinks.audit_model import AuditRow, AuditStore

AuditSink = Callable[[Sequence[AuditRow]], None]
TERMINAL_KINDS = frozenset({"completed", "rejected", "dlq", "review"})  # review: docs/recovery.md
NOT_PER_EVENT = frozenset({"drift"})  # window records: rows of no single event's journey
MAX_OPEN_EVENTS = 100_000  # events whose terminal row has not come (a crash mid-run): oldest ended first
SERVICE_NAME = "dana-workflows"
SPAN_QUEUE = 1 << 18  # spans waiting for export; beyond it the SDK drops (and logs) them
SPAN_BATCH = 8192  # spans per OTLP request


def _ns(us: int) -> int:
    return us * 1000


def _attribute(value: Any) -> Any:
    """An OTLP attribute value: scalars as they are, lists of scalars as lists, anything else as JSON."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list) and all(isinstance(v, str | bool | int | float) for v in value):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class RowSpans:
    """Turns audit rows into spans, row by row; holds each event's root span until its terminal row."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.open: OrderedDict[str, Span] = OrderedDict()

    def __call__(self, rows: Sequence[AuditRow]) -> None:
        for row in rows:
            if row.kind not in NOT_PER_EVENT:
                self.add(row)

    def add(self, row: AuditRow) -> None:
        root = self.open.get(row.run_id) or self._open_root(row)
        context = trace.set_span_in_context(root)
        end = _ns(row.ts_us)
        step = self.tracer.start_span(
            row.step,
            context=context,
            start_time=end - _ns(row.duration_us),
            attributes={
                "dwf.step": row.step,
                "dwf.kind": row.kind,
                "dwf.decision": row.decision,
                "dwf.reason": row.reason,
                "dwf.attempt": row.attempt,
                "dwf.seq": row.seq,
            },
        )
        details = json.loads(row.details) if row.details not in ("", "{}") else {}
        if "gen_ai.operation.name" in details:
            self._llm_span(step, details, end - _ns(row.duration_us), end)
        if row.kind == "dlq":
            step.set_status(Status(StatusCode.ERROR, row.reason))
        step.end(end_time=end)
        if row.kind in TERMINAL_KINDS:
            self._close_root(row)

    def _open_root(self, row: AuditRow) -> Span:
        if len(self.open) >= MAX_OPEN_EVENTS:
            _, oldest = self.open.popitem(last=False)
            oldest.end()
        root = self.tracer.start_span(
            f"event {row.workflow}",
            start_time=_ns(row.ts_us),
            attributes={
                "dwf.workflow": row.workflow,
                "dwf.workflow.version": row.workflow_version,
                "dwf.run_id": row.run_id,
                "dwf.event_id": row.event_id,
            },
        )
        self.open[row.run_id] = root
        return root

    def _close_root(self, row: AuditRow) -> None:
        root = self.open.pop(row.run_id)
        root.set_attribute("dwf.outcome", row.kind)
        root.set_attribute("dwf.final_step", row.step)
        if row.kind == "dlq":
            root.set_status(Status(StatusCode.ERROR, row.reason))
        root.end(end_time=_ns(row.ts_us))

    def _llm_span(self, parent: Span, details: dict[str, Any], start: int, end: int) -> None:
        operation = str(details["gen_ai.operation.name"])
        model = details.get("gen_ai.request.model", "")
        span = self.tracer.start_span(
            f"{operation} {model}".strip(),
            context=trace.set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes={
                k: _attribute(v)
                for k, v in details.items()
                if (k.startswith("gen_ai.") or k.startswith("dwf.llm.")) and v is not None
            },
        )
        span.end(end_time=end)

    def close(self) -> None:
        """End the roots of events that never reached a terminal row (the run stopped)."""
        while self.open:
            _, root = self.open.popitem(last=False)
            root.end()


class Tracing:
    """The tracer provider of one process, with the span maker that feeds it."""

    def __init__(
        self, exporter: SpanExporter, service_name: str = SERVICE_NAME, sample_ratio: float = 1.0
    ) -> None:
        # sampled per event: an event's root decides, its step and llm spans follow it (ParentBased); an
        # event left out costs almost nothing (the SDK makes no span object for it)
        sampler = ParentBased(TraceIdRatioBased(sample_ratio))
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), sampler=sampler
        )
        # a run makes spans far faster than one exporter thread sends them: the SDK's default queue (2,048)
        # dropped half the spans of 5,000 claims, this one none (measured, docs/observability.md)
        self.provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=SPAN_QUEUE,
                max_export_batch_size=SPAN_BATCH,
                schedule_delay_millis=500,
            )
        )
        self.spans = RowSpans(self.provider.get_tracer("dana_workflows"))

    def sink(self, audit: AuditSink) -> AuditSink:
        """`audit`, and spans of the same rows."""

        def both(rows: Sequence[AuditRow]) -> None:
            audit(rows)
            self.spans(rows)

        return both

    def close(self) -> None:
        """End open events and flush every span to the exporter."""
        self.spans.close()
        self.provider.shutdown()


def tracing_for(settings: Settings) -> Tracing | None:
    """Tracing to the settings' OTLP endpoint (DWF_OTLP_ENDPOINT), or None when it is not set."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.otlp_endpoint.rstrip("/")
    url = endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"
    return Tracing(OTLPSpanExporter(endpoint=url), settings.otlp_service_name, settings.otlp_sample_ratio)


class TracedStore:
    """An audit store whose inserted rows are traced too: how a Kafka worker that stores the audit (its
    audit agent inserts every worker's rows) exports the spans of the whole workflow."""

    def __init__(self, store: AuditStore, tracing: Tracing) -> None:
        self.store = store
        self.tracing = tracing

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        self.store.insert(rows, dedup_token)
        self.tracing.spans(rows)

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self.tracing.close()

    def __getattr__(self, name: str) -> Any:  # ensure_schema, query, present and any backend extra
        return getattr(self.store, name)


def traced_store(store: AuditStore | None, settings: Settings) -> AuditStore | None:
    """`store`, traced when DWF_OTLP_ENDPOINT is set (no store on this worker: its rows are traced where
    they are stored)."""
    tracing = tracing_for(settings) if store is not None else None
    if store is None or tracing is None:
        return store
    return TracedStore(store, tracing)
