"""Spans made from audit rows (streams/tracing.py, docs/observability.md), checked in memory: per event a root
span ``event <workflow>`` from `received` to its terminal row, a child span per transition named after its
step with the row's fields, under an llm step a ``chat <model>`` client span with the GenAI attributes, a
dlq as an error; drift rows belong to no event; events that never ended are ended at close; the traced store
stores first and traces the same rows; DWF_OTLP_ENDPOINT picks the OTLP traces URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from dana_workflows.core.settings import Settings
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams import tracing as tracing_module
from dana_workflows.streams.tracing import TracedStore, Tracing, traced_store, tracing_for

pytestmark = pytest.mark.unit


def row(run: str, seq: int, step: str, kind: str, ts_us: int, duration_us: int = 0, **kw: Any) -> AuditRow:
    return AuditRow(
        workflow="claims",
        workflow_version=3,
        run_id=run,
        seq=seq,
        event_id=f"ev-{run}",
        step=step,
        kind=kind,
        ts_us=ts_us,
        duration_us=duration_us,
        **kw,
    )


def spans_of(rows: list[AuditRow], close: bool = True) -> tuple[list[ReadableSpan], Tracing]:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, service_name="svc-test")
    tracing.spans(rows)
    if close:
        tracing.close()
    else:
        tracing.provider.force_flush()
    return list(exporter.get_finished_spans()), tracing


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


LLM = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-x",
    "gen_ai.usage.input_tokens": 12,
    "dwf.llm.outcome": "ok",
    "dwf.llm.stop": ["a", "b"],
    "dwf.llm.extra": {"k": 1, "a": [1, 2]},
    "dwf.llm.none": None,
    "other.field": "not exported",
}


def test_an_event_is_a_root_span_with_a_child_per_transition() -> None:
    rows = [
        row("r1", 0, "ingest", "received", ts_us=1_000),
        row(
            "r1",
            1,
            "check",
            "emitted",
            ts_us=5_000,
            duration_us=3_000,
            decision="pass",
            reason="ok",
            attempt=1,
        ),
        row("r1", 2, "out", "completed", ts_us=9_000),
    ]
    spans, _ = spans_of(rows)
    root = by_name(spans, "event claims")
    assert root.parent is None
    assert root.start_time == 1_000_000 and root.end_time == 9_000_000
    assert root.attributes is not None
    assert dict(root.attributes) == {
        "dwf.workflow": "claims",
        "dwf.workflow.version": 3,
        "dwf.run_id": "r1",
        "dwf.event_id": "ev-r1",
        "dwf.outcome": "completed",
        "dwf.final_step": "out",
    }
    check = by_name(spans, "check")
    assert check.parent is not None and check.parent.span_id == root.context.span_id
    assert check.context.trace_id == root.context.trace_id
    assert check.start_time == 2_000_000 and check.end_time == 5_000_000  # ends at ts, began duration before
    assert check.attributes is not None
    assert dict(check.attributes) == {
        "dwf.step": "check",
        "dwf.kind": "emitted",
        "dwf.decision": "pass",
        "dwf.reason": "ok",
        "dwf.attempt": 1,
        "dwf.seq": 1,
    }
    assert root.status.status_code == StatusCode.UNSET
    assert check.status.status_code == StatusCode.UNSET
    assert root.resource.attributes["service.name"] == "svc-test"


def test_two_events_are_two_traces() -> None:
    rows = [
        row("r1", 0, "ingest", "received", ts_us=1),
        row("r2", 0, "ingest", "received", ts_us=2),
        row("r1", 1, "out", "completed", ts_us=3),
        row("r2", 1, "check", "rejected", ts_us=4),
    ]
    spans, _ = spans_of(rows)
    roots = [s for s in spans if s.name == "event claims"]
    assert len(roots) == 2
    assert {r.attributes["dwf.outcome"] for r in roots if r.attributes} == {"completed", "rejected"}
    assert len({s.context.trace_id for s in spans}) == 2


@pytest.mark.parametrize("terminal", ["completed", "rejected", "dlq", "review"])
def test_each_terminal_kind_ends_the_event(terminal: str) -> None:
    spans, tracing = spans_of(
        [row("r1", 0, "ingest", "received", ts_us=1), row("r1", 1, "s", terminal, ts_us=7)], close=False
    )
    root = by_name(spans, "event claims")
    assert root.end_time == 7_000
    assert tracing.spans.open == {}
    tracing.close()


def test_a_non_terminal_row_leaves_the_event_open_until_close() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter)
    tracing.spans([row("r1", 0, "ingest", "received", ts_us=1), row("r1", 1, "check", "routed", ts_us=2)])
    tracing.provider.force_flush()
    assert [s.name for s in exporter.get_finished_spans()] == ["ingest", "check"]
    tracing.close()  # the run stopped: the root is ended
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["check", "event claims", "ingest"]


def test_a_dlq_is_an_error_on_the_step_and_the_event() -> None:
    spans, _ = spans_of(
        [
            row("r1", 0, "ingest", "received", ts_us=1),
            row("r1", 1, "check", "dlq", ts_us=2, reason="bad payload"),
        ]
    )
    for span in (by_name(spans, "check"), by_name(spans, "event claims")):
        assert span.status.status_code == StatusCode.ERROR
        assert span.status.description == "bad payload"


def test_an_llm_row_has_a_client_span_with_the_genai_attributes() -> None:
    rows = [
        row("r1", 0, "ingest", "received", ts_us=1_000),
        row("r1", 1, "summarize", "emitted", ts_us=10_000, duration_us=4_000, details=json.dumps(LLM)),
        row("r1", 2, "out", "completed", ts_us=11_000),
    ]
    spans, _ = spans_of(rows)
    chat = by_name(spans, "chat gpt-x")
    step = by_name(spans, "summarize")
    assert chat.kind == SpanKind.CLIENT
    assert chat.parent is not None and chat.parent.span_id == step.context.span_id
    assert (chat.start_time, chat.end_time) == (6_000_000, 10_000_000)
    assert chat.attributes is not None
    assert dict(chat.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.usage.input_tokens": 12,
        "dwf.llm.outcome": "ok",
        "dwf.llm.stop": ("a", "b"),
        "dwf.llm.extra": '{"a":[1,2],"k":1}',  # not a scalar: as compact JSON, keys sorted
    }


def test_an_llm_span_without_a_model_is_named_after_the_operation() -> None:
    details = json.dumps({"gen_ai.operation.name": "chat"})
    spans, _ = spans_of([row("r1", 0, "s", "emitted", ts_us=5, details=details)])
    assert "chat" in [s.name for s in spans]


def test_rows_without_genai_fields_have_no_llm_span() -> None:
    spans, _ = spans_of(
        [row("r1", 0, "s", "emitted", ts_us=5, details=json.dumps({"dwf.llm.outcome": "ok"}))]
    )
    assert sorted(s.name for s in spans) == ["event claims", "s"]


def test_drift_rows_make_no_spans() -> None:
    spans, tracing = spans_of([row("w", 0, "drift", "drift", ts_us=5)], close=False)
    assert spans == []
    assert tracing.spans.open == {}
    tracing.close()


def test_the_oldest_open_event_is_ended_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing_module, "MAX_OPEN_EVENTS", 2)
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter)
    tracing.spans([row(r, 0, "ingest", "received", ts_us=1) for r in ("r1", "r2", "r3")])
    assert list(tracing.spans.open) == ["r2", "r3"]
    tracing.provider.force_flush()
    roots = [s for s in exporter.get_finished_spans() if s.name == "event claims"]
    assert [r.attributes["dwf.run_id"] for r in roots if r.attributes] == ["r1"]
    tracing.close()


def test_sink_stores_the_rows_and_traces_them() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter)
    stored: list[list[AuditRow]] = []
    rows = [row("r1", 0, "ingest", "received", ts_us=1), row("r1", 1, "out", "completed", ts_us=2)]
    tracing.sink(lambda rs: stored.append(list(rs)))(rows)
    tracing.close()
    assert stored == [rows]
    assert len(exporter.get_finished_spans()) == 3


class Store:
    def __init__(self, fail_close: bool = False) -> None:
        self.inserted: list[tuple[list[AuditRow], str | None]] = []
        self.fail_close = fail_close
        self.closed = False

    def insert(self, rows: list[AuditRow], dedup_token: str | None = None) -> None:
        self.inserted.append((list(rows), dedup_token))

    def ensure_schema(self) -> str:
        return "schema ensured"

    def close(self) -> None:
        self.closed = True
        if self.fail_close:
            raise RuntimeError("store close failed")


def test_the_traced_store_stores_then_traces_and_passes_the_rest_through() -> None:
    exporter = InMemorySpanExporter()
    store = Store()
    traced = TracedStore(store, Tracing(exporter))  # type: ignore[arg-type]
    rows = [row("r1", 0, "ingest", "received", ts_us=1), row("r1", 1, "out", "completed", ts_us=2)]
    traced.insert(rows, "tok-1")
    assert store.inserted == [(rows, "tok-1")]
    assert traced.ensure_schema() == "schema ensured"
    traced.close()
    assert store.closed
    assert len(exporter.get_finished_spans()) == 3


def test_the_spans_are_flushed_even_when_the_store_fails_to_close() -> None:
    exporter = InMemorySpanExporter()
    traced = TracedStore(Store(fail_close=True), Tracing(exporter))  # type: ignore[arg-type]
    traced.insert([row("r1", 0, "ingest", "received", ts_us=1)])
    with pytest.raises(RuntimeError, match="store close failed"):
        traced.close()
    assert [s.name for s in exporter.get_finished_spans()] == ["ingest", "event claims"]


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_the_otlp_endpoint_is_the_traces_url(endpoint: str, url: str, tmp_path: Path) -> None:
    tracing = tracing_for(Settings(data_dir=tmp_path, otlp_endpoint=endpoint, otlp_service_name="svc-x"))
    assert tracing is not None
    try:
        (processor,) = tracing.provider._active_span_processor._span_processors
        exporter: Any = processor.span_exporter  # type: ignore[attr-defined]
        assert exporter._endpoint == url
        assert tracing.provider.resource.attributes["service.name"] == "svc-x"
    finally:
        tracing.spans.open.clear()
        tracing.provider.shutdown()


def test_no_endpoint_no_tracing_and_the_store_unchanged(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, otlp_endpoint=None)
    assert tracing_for(settings) is None
    store = Store()
    assert traced_store(store, settings) is store  # type: ignore[arg-type,comparison-overlap]
    assert traced_store(None, Settings(data_dir=tmp_path, otlp_endpoint="http://c:4318")) is None


def test_with_an_endpoint_the_store_is_traced(tmp_path: Path) -> None:
    traced = traced_store(Store(), Settings(data_dir=tmp_path, otlp_endpoint="http://c:4318"))  # type: ignore[arg-type]
    assert isinstance(traced, TracedStore)
    traced.tracing.provider.shutdown()


def test_a_row_with_empty_details_is_a_plain_step_span() -> None:
    spans, _ = spans_of(
        [row("r1", 0, "ingest", "received", ts_us=1, details=""), row("r1", 1, "out", "completed", ts_us=2)]
    )
    assert sorted(s.name for s in spans) == ["event claims", "ingest", "out"]
