"""What feeds a Kafka worker's metrics (streams/kafka/worker_metrics.py, docs/operations.md "Where a Kafka
worker's numbers come from"), with a stand-in context: per record an agent handles, events in/out per step
and outcome (counted when the batch is flushed), rejections per failing `reject` rule, dlq, recovery rungs;
for llm steps the call, tokens, cost, latency, 429s and cache hits from the call's audit details; the audit
sink's stored batches; the periodic lag (high watermark minus the next offset to handle) and readiness."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import DLQ, REJECTED, REVIEW
from dana_workflows.streams.kafka import worker_metrics as wm
from dana_workflows.streams.kafka.worker_metrics import WorkerMetrics, llm_status
from dana_workflows.workflow.ir import LLMStepIR

pytestmark = pytest.mark.unit

WF = "claims"
DLQ_TOPIC = "dwf.claims.dlq"


class Ctx:
    def __init__(self) -> None:
        self.workflow = WF
        self.options = SimpleNamespace(audit_buffer_max=500)
        self.pipeline = SimpleNamespace(workflow=SimpleNamespace(name="claims-triage", version=3))
        self.tasks: list[Any] = []
        self.app = SimpleNamespace(task=self.tasks.append)
        self.state = SimpleNamespace(draining=False, crashed=None)

    def topic(self, boundary: str) -> str:
        assert boundary == DLQ
        return DLQ_TOPIC


def make() -> tuple[WorkerMetrics, Ctx]:
    ctx = Ctx()
    return WorkerMetrics(ctx, port=None), ctx  # type: ignore[arg-type]


def node(path: str = "check", branches: bool = False, step: Any = None) -> Any:
    return SimpleNamespace(path=path, branches={"fast": object()} if branches else {}, step=step or object())


def result(
    *,
    forwarded: bool = False,
    boundary: str = "out",
    rules: list[dict[str, Any]] | None = None,
    rows: list[Any] | None = None,
    phases: tuple[str, ...] = (),
) -> Any:
    """A step's result as the executor makes it (forwarded: an edge to the next step)."""
    return StepResult(
        boundary,
        SimpleNamespace(provenance={"rule_results": rules} if rules is not None else {}),  # type: ignore[arg-type]
        edge=SimpleNamespace(boundary=boundary) if forwarded else None,  # type: ignore[arg-type]
        rows=rows or [],
        outcome=SimpleNamespace(phases=[SimpleNamespace(name=p) for p in phases]),  # type: ignore[arg-type]
    )


def value(w: WorkerMetrics, name: str, **labels: str) -> float:
    return w.metrics.value(name, **labels)


@pytest.mark.parametrize(
    ("details", "status"),
    [
        ({"dwf.llm.outcome": "ok"}, "ok"),
        ({"dwf.llm.outcome": "ok", "error.type": "timeout"}, "ok"),
        ({"dwf.llm.outcome": "error", "error.type": "timeout"}, "timeout"),
        ({"dwf.llm.outcome": "error", "error.type": "read_timeout"}, "timeout"),
        ({"dwf.llm.outcome": "error", "error.type": "rate_limited"}, "rate_limited"),
        ({"dwf.llm.outcome": "error", "error.type": "output_invalid"}, "invalid_output"),
        ({"dwf.llm.outcome": "error", "error.type": "http_500"}, "error"),
        ({}, "error"),
    ],
)
def test_llm_status_is_one_of_the_documented_statuses(details: dict[str, Any], status: str) -> None:
    assert llm_status(details) == status


def test_build_info_and_capacity_at_start() -> None:
    w, ctx = make()
    (family,) = [f for f in w.metrics.registry.collect() if f.name == "dwf_build"]
    (sample,) = family.samples
    assert sample.labels["workflow"] == "claims-triage"
    assert sample.labels["workflow_version"] == "3"
    assert sample.labels["version"] == version("dana-workflows")  # the engine's installed version
    assert value(w, "dwf_audit_buffer_capacity_rows") == 500
    assert len(ctx.tasks) == 1  # the periodic poll runs on the app's loop


def test_outcomes_are_counted_when_the_batch_is_flushed() -> None:
    w, _ = make()
    w.on_outcome(node(), result(forwarded=True), [("dwf.claims.next", b"v", None)], 0.002)
    w.on_outcome(node(), result(forwarded=True), [("dwf.claims.next", b"v", None)], 0.004)
    assert value(w, "dwf_events_in_total", workflow=WF, step="check") == 0
    w.flush()
    assert value(w, "dwf_events_in_total", workflow=WF, step="check") == 2
    assert value(w, "dwf_events_out_total", workflow=WF, step="check", outcome="emit") == 2
    assert value(w, "dwf_step_duration_seconds_count", workflow=WF, step="check") == 2
    assert value(w, "dwf_step_duration_seconds_sum", workflow=WF, step="check") == pytest.approx(0.006)
    w.flush()  # nothing new: nothing counted twice
    assert value(w, "dwf_events_in_total", workflow=WF, step="check") == 2


def test_each_outcome_kind() -> None:
    w, _ = make()
    w.on_outcome(node(branches=True), result(forwarded=True), [("dwf.claims.fast", b"v", None)], 0.0)
    w.on_outcome(node(), result(forwarded=True), [(DLQ_TOPIC, b"v", None)], 0.0)  # did not fit the schema
    w.on_outcome(node(), result(boundary=REVIEW), [], 0.0)
    w.on_outcome(node(), result(boundary=DLQ), [], 0.0)
    w.flush()
    out = {
        o: value(w, "dwf_events_out_total", workflow=WF, step="check", outcome=o)
        for o in ("route", "dlq", "review", "emit")
    }
    assert out == {"route": 1, "dlq": 2, "review": 1, "emit": 0}
    assert value(w, "dwf_dlq_total", workflow=WF, step="check") == 2
    assert value(w, "dwf_events_in_total", workflow=WF, step="check") == 4


def test_a_rejection_counts_each_failing_reject_rule() -> None:
    w, _ = make()
    rules = [
        {"rule_id": "positive_amount", "passed": False, "severity": "reject"},
        {"rule_id": "known_currency", "passed": False, "severity": "reject"},
        {"rule_id": "has_description", "passed": False, "severity": "warn"},
        {"rule_id": "has_policy", "passed": True, "severity": "reject"},
    ]
    w.on_outcome(node(), result(boundary=REJECTED, rules=rules), [], 0.0)
    w.on_outcome(node(), result(boundary=REJECTED, rules=rules[:1]), [], 0.0)
    w.on_outcome(node(), result(boundary=REJECTED), [], 0.0)  # no rule results at all
    w.flush()
    assert value(w, "dwf_events_out_total", workflow=WF, step="check", outcome="reject") == 3
    rejections = {
        r: value(w, "dwf_rule_rejections_total", workflow=WF, rule=r)
        for r in ("positive_amount", "known_currency", "has_description", "has_policy")
    }
    assert rejections == {"positive_amount": 2, "known_currency": 1, "has_description": 0, "has_policy": 0}


def test_recovery_rows_count_rung_attempts() -> None:
    w, _ = make()
    rows = [
        SimpleNamespace(
            kind="recovery",
            step="check",
            decision="retry",
            details=json.dumps({"error_class": "TimeoutError", "succeeded": False}),
        ),
        SimpleNamespace(
            kind="recovery",
            step="check",
            decision="fallback",
            details=json.dumps({"error_class": "TimeoutError", "succeeded": True}),
        ),
        SimpleNamespace(kind="step", step="check", decision="emit", details="{}"),
    ]
    w.on_outcome(node(), result(forwarded=True, rows=rows), [], 0.0)
    labels = {"workflow": WF, "step": "check", "error_class": "TimeoutError"}
    assert value(w, "dwf_recovery_attempts_total", **labels, rung="retry", outcome="failure") == 1
    assert value(w, "dwf_recovery_attempts_total", **labels, rung="fallback", outcome="success") == 1


def llm_row(step: str, details: dict[str, Any], kind: str = "step") -> Any:
    return SimpleNamespace(kind=kind, step=step, decision="emit", details=json.dumps(details))


def test_an_llm_call_is_counted_once_from_the_steps_own_row() -> None:
    w, _ = make()
    step = LLMStepIR(name="summarize", prompt="p", output=())
    call = {
        "dwf.llm.outcome": "ok",
        "dwf.llm.model_used": "gpt-x",
        "gen_ai.request.model": "default",
        "dwf.llm.latency_ms": 1500,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "dwf.llm.cost_usd": 0.25,
        "dwf.llm.rate_limited": 2,
    }
    rows = [
        llm_row("summarize", call),
        llm_row("summarize", call, kind="operate"),  # a phase row repeats the call's fields
        llm_row("other", call),  # another step's row
        llm_row("summarize", {"note": "no llm fields"}, kind="note"),
    ]
    w.on_outcome(
        node("summarize", step=step), result(forwarded=True, rows=rows, phases=("operate",)), [], 1.6
    )
    llm = {"workflow": WF, "step": "summarize", "model": "gpt-x"}
    assert value(w, "dwf_llm_calls_total", **llm, status="ok") == 1
    assert value(w, "dwf_llm_tokens_total", **llm, kind="input") == 100
    assert value(w, "dwf_llm_tokens_total", **llm, kind="output") == 20
    assert value(w, "dwf_llm_cost_usd_total", **llm) == 0.25
    assert value(w, "dwf_llm_rate_limited_total", **llm) == 2
    assert value(w, "dwf_llm_request_duration_seconds_sum", **llm) == pytest.approx(1.5)


def test_llm_model_falls_back_to_the_requested_one_and_cache_hits_and_skips() -> None:
    w, _ = make()
    step = LLMStepIR(name="summarize", prompt="p", output=())
    rows = [
        llm_row(
            "summarize", {"dwf.llm.outcome": "error", "error.type": "timeout", "gen_ai.request.model": "m1"}
        ),
        llm_row(
            "summarize", {"dwf.llm.outcome": "ok", "gen_ai.request.model": "m1", "dwf.llm.cache_hit": True}
        ),
        llm_row("summarize", {"dwf.llm.outcome": "skipped", "gen_ai.request.model": "m1"}),
    ]
    w.on_outcome(node("summarize", step=step), result(forwarded=True, rows=rows), [], 0.0)
    llm = {"workflow": WF, "step": "summarize", "model": "m1"}
    assert value(w, "dwf_llm_calls_total", **llm, status="timeout") == 1
    assert value(w, "dwf_llm_calls_total", **llm, status="ok") == 0  # the cached reply is no call
    assert value(w, "dwf_llm_cache_hits_total", **llm) == 1
    assert value(w, "dwf_llm_rate_limited_total", **llm) == 0  # no 429 reported: none counted


def test_an_llm_call_without_a_model_is_counted_under_an_empty_model() -> None:
    w, _ = make()
    step = LLMStepIR(name="summarize", prompt="p", output=())
    rows = [llm_row("summarize", {"dwf.llm.outcome": "ok"})]
    w.on_outcome(node("summarize", step=step), result(forwarded=True, rows=rows), [], 0.0)
    assert value(w, "dwf_llm_calls_total", workflow=WF, step="summarize", model="", status="ok") == 1


def test_a_non_llm_step_counts_no_llm_call() -> None:
    w, _ = make()
    rows = [llm_row("check", {"dwf.llm.outcome": "ok", "gen_ai.request.model": "m1"})]
    w.on_outcome(node("check"), result(forwarded=True, rows=rows), [], 0.0)
    assert value(w, "dwf_llm_calls_total", workflow=WF, step="check", model="m1", status="ok") == 0


def test_a_poison_record_is_a_dlq_under_deserialize() -> None:
    w, _ = make()
    w.on_poison(object())
    assert value(w, "dwf_dlq_total", workflow=WF, step="deserialize") == 1


def test_a_stored_audit_batch_counts_its_insert_and_the_buffer_left() -> None:
    w, _ = make()
    audit = SimpleNamespace(on_stored=[], sink=SimpleNamespace(depth=30))
    w.attach(audit, lambda: None)  # type: ignore[arg-type]
    (hook,) = audit.on_stored
    hook(SimpleNamespace(latency_s=0.02, rows=12))
    assert value(w, "dwf_audit_rows_inserted_total") == 12
    assert value(w, "dwf_audit_insert_duration_seconds_sum") == pytest.approx(0.02)
    assert value(w, "dwf_audit_buffer_rows") == 18
    audit.sink.depth = 5
    hook(SimpleNamespace(latency_s=0.01, rows=12))
    assert value(w, "dwf_audit_buffer_rows") == 0  # never below zero


def test_the_watchdog_attached_decides_liveness() -> None:
    w, _ = make()
    assert w.health.liveness() is None
    w.attach(None, lambda: "stalled for 120 s")
    assert w.health.liveness() == "stalled for 120 s"


def tp(topic: str, partition: int) -> Any:
    return SimpleNamespace(topic=topic, partition=partition)


def test_poll_sets_lag_readiness_and_the_buffer_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    w, ctx = make()
    a, b = tp("dwf.claims.in", 0), tp("dwf.claims.in", 1)
    assigned: list[Any] = [a, b]

    async def progress(_: Any, parts: list[Any]) -> list[tuple[Any, int, int]]:
        assert parts == assigned
        return [(a, 10, 7), (b, 4, 6)]  # b: handled past the watermark read a moment ago

    monkeypatch.setattr(wm, "watched_partitions", lambda _: assigned)
    monkeypatch.setattr(wm, "partition_progress", progress)
    w.attach(SimpleNamespace(on_stored=[], sink=SimpleNamespace(depth=42)), lambda: None)  # type: ignore[arg-type]
    asyncio.run(w.poll())
    assert value(w, "dwf_consumer_lag_messages", topic="dwf.claims.in", partition="0") == 3
    assert value(w, "dwf_consumer_lag_messages", topic="dwf.claims.in", partition="1") == 0
    assert value(w, "dwf_audit_buffer_rows") == 42
    assert w.health.ready

    ctx.state.draining = True
    asyncio.run(w.poll())
    assert not w.health.ready
    ctx.state.draining = False
    ctx.state.crashed = RuntimeError("x")
    asyncio.run(w.poll())
    assert not w.health.ready
    ctx.state.crashed = None
    assigned.clear()
    asyncio.run(w.poll())
    assert not w.health.ready  # no partitions assigned yet


def test_without_a_port_no_endpoint_and_stop_clears_readiness() -> None:
    w, _ = make()
    w.start()
    assert w.server is None
    w.health.set_ready(True)
    w.stop()
    assert not w.health.ready


def test_with_a_port_the_endpoint_serves_the_metrics_and_says_where(caplog: pytest.LogCaptureFixture) -> None:
    ctx = Ctx()
    w = WorkerMetrics(ctx, port=0)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger=wm.__name__):
        w.start()
    try:
        assert w.server is not None
        assert f"metrics and health on {w.server.url} (/metrics, /healthz, /readyz)" in caplog.text
        response = httpx.get(f"{w.server.url}/metrics", timeout=5)
        assert 'dwf_build_info{version="' in response.text
        assert "dwf_audit_buffer_capacity_rows 500.0" in response.text
    finally:
        w.stop()
    assert w.server is None


def test_a_taken_port_is_logged_and_the_worker_runs_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the endpoint's own bind address
        taken.listen()
        port = taken.getsockname()[1]
        w = WorkerMetrics(Ctx(), port=port)  # type: ignore[arg-type]
        with caplog.at_level(logging.ERROR, logger=wm.__name__):
            w.start()
    assert w.server is None
    assert "the worker runs without its metrics endpoint" in caplog.text
    assert str(port) in caplog.text
