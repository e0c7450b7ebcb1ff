"""OpenTelemetry traces over OTLP (issue 20): a run of the claims example with its llm step, exported to
a real OTLP/HTTP receiver this test starts (opentelemetry-proto messages over HTTP), gives a root span per
event, a span per step transition under it, and a `chat <model>` client span with the GenAI attributes
the audit row of the llm step holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.core.settings import load_settings
from dana_workflows.devservices.llm_server.script import load_script
from dana_workflows.devservices.llm_server.server import ServerThread
from dana_workflows.streams.embedded import run
from tests.otlp_receiver import Receiver, receiver

__all__ = ["receiver"]  # the fixture

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "claims"
EVENTS = (EXAMPLE / "events.jsonl").read_text().splitlines()[:40]


def test_a_run_is_traced_per_event_step_and_llm_call(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    monkeypatch.setenv("DWF_LLM_CACHE_PATH", str(tmp_path / "llm-cache"))
    monkeypatch.setenv("DWF_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_address[1]}")
    llm = ServerThread(load_script(EXAMPLE / "llm_script.yaml")).start()
    try:
        settings = load_settings()
        settings.llm_default = settings.llm_default.model_copy(update={"base_url": llm.base_url})
        result = run(EXAMPLE / "claims_llm.yaml", EVENTS, settings=settings)
    finally:
        llm.stop()
    assert set(receiver.paths) == {"/v1/traces"}
    spans = receiver.spans
    by_id = {s["id"]: s for s in spans}
    roots = [s for s in spans if not s["parent"]]
    # one root per event, named after the workflow, carrying the event's run id and outcome
    assert sorted(r["attrs"]["dwf.run_id"] for r in roots) == sorted(result.run_ids)
    assert {r["name"] for r in roots} == {"event claims-triage-llm"}
    assert {r["service"] for r in spans} == {"dana-workflows"}
    outcome_of = {d.run_id: d.outcome for d in result.decisions}
    terminal = {"out": "completed", "rejected": "rejected", "dlq": "dlq"}
    for root in roots:
        assert root["attrs"]["dwf.outcome"] == terminal[outcome_of[root["attrs"]["dwf.run_id"]]]
    # a span per transition: each audit row of an event is one span under its root, named by its step
    per_event_rows = [r for r in result.audit_rows if r.kind != "drift"]
    step_spans = [s for s in spans if s["parent"] and by_id[s["parent"]] in roots]
    assert len(step_spans) == len(per_event_rows)
    for span in step_spans:
        root = by_id[span["parent"]]
        assert span["trace"] == root["trace"] and span["name"] == span["attrs"]["dwf.step"]
        assert root["start"] <= span["end"] <= root["end"]
    assert len({r["trace"] for r in roots}) == len(roots)  # one trace per event
    # llm calls: a client span under the llm step's span, with the audit's GenAI attributes
    llm_rows = [r for r in per_event_rows if "gen_ai.operation.name" in json.loads(r.details)]
    llm_spans = [s for s in spans if s["name"].startswith("chat ")]
    assert llm_rows and len(llm_spans) == len(llm_rows)
    for span in llm_spans:
        parent = by_id[span["parent"]]
        assert parent["name"] == "triage.review.fraud_risk" and span["kind"] == 3  # SPAN_KIND_CLIENT
        assert span["name"] == f"chat {span['attrs']['gen_ai.request.model']}"
        assert span["attrs"]["gen_ai.provider.name"]
        assert (
            span["attrs"]["gen_ai.usage.input_tokens"] > 0 and span["attrs"]["gen_ai.usage.output_tokens"] > 0
        )
    recorded = {json.loads(r.details)["gen_ai.response.id"] for r in llm_rows}
    assert {s["attrs"]["gen_ai.response.id"] for s in llm_spans} == recorded


def test_no_endpoint_no_traces(receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    monkeypatch.delenv("DWF_OTLP_ENDPOINT", raising=False)
    run(EXAMPLE / "claims.yaml", EVENTS[:5])
    assert receiver.spans == []


def test_sampling_keeps_whole_events(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    monkeypatch.setenv("DWF_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_address[1]}")
    monkeypatch.setenv("DWF_OTLP_SAMPLE_RATIO", "0.5")
    result = run(EXAMPLE / "claims.yaml", EVENTS)
    roots = {s["id"]: s["attrs"]["dwf.run_id"] for s in receiver.spans if not s["parent"]}
    assert 0 < len(roots) < len(EVENTS)  # about half; none and all have a chance of 2 in 2**40
    rows_of: dict[str, int] = {}
    for row in result.audit_rows:
        if row.kind != "drift":
            rows_of[row.run_id] = rows_of.get(row.run_id, 0) + 1
    children: dict[str, int] = {}
    for span in receiver.spans:
        if span["parent"] in roots:
            children[roots[span["parent"]]] = children.get(roots[span["parent"]], 0) + 1
    assert children == {run_id: rows_of[run_id] for run_id in roots.values()}  # a traced event is whole
