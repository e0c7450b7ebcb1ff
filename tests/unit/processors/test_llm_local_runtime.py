"""LLM faults through the whole in-process runtime: the step's recovery policy decides, nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.llm import LLMClient, SqliteLLMCache
from dana_workflows.processors.llm.retry import RetryConfig
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.local_runs import run_with_llm
from tests.fixtures.risk_workflow import RISK_EVENTS, RISK_SPEC

pytestmark = pytest.mark.unit

SPEC, EVENTS = RISK_SPEC, RISK_EVENTS

# The client's limit where the server answers: a normal reply never comes near it, however loaded the machine.
LIMIT_S = 30.0
# The limit of the timeout case only: the server's `hang` fault never answers, so it fires for sure.
TIMEOUT_S = 0.5


async def run(
    tmp_path: Path, server: LLMServerHandle, retry: str, cache: bool = False, limit_s: float = LIMIT_S
) -> dict[str, Any]:
    client = LLMClient(
        LLMEndpoint(base_url=server.base_url, timeout_s=limit_s),
        cache=SqliteLLMCache(tmp_path / "cache") if cache else None,
        retry=RetryConfig(max_attempts=2, base_s=0.01, max_s=0.02),
        breaker_threshold=3,
    )
    res = await run_with_llm(SPEC.replace("RETRY", retry), EVENTS, tmp_path, client)
    return {"out": res.read("out"), "dlq": res.read("dlq"), "rows": res.rows, "summary": res.summary}


async def test_replies_fill_typed_fields_and_are_audited(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    res = await run(tmp_path, llm_server, "{max_attempts: 1}")
    risks = {r["payload"]["claim_id"]: r["payload"]["risk"] for r in res["out"]}
    assert risks == {"C0": "high", "C1": "low", "C2": None, "C3": "high", "C4": "low"}
    assert llm_server.count() == 4  # the empty description was settled symbolically, no call
    calls = [json.loads(r.details) for r in res["rows"] if r.step == "assess" and r.kind == "emitted"]
    assert sum(1 for d in calls if d.get("dwf.llm.outcome") == "ok") == 4
    assert all("gen_ai.usage.input_tokens" in d for d in calls if d["dwf.llm.outcome"] == "ok")
    assert verify_rows(res["rows"]).ok


async def test_server_down_goes_to_dlq_with_the_error(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    llm_server.faults(server_error={"always": True})
    res = await run(tmp_path, llm_server, "{max_attempts: 1, on_exhausted: dlq}")
    assert [r["payload"]["claim_id"] for r in res["out"]] == ["C2"]
    assert len(res["dlq"]) == 4
    errors = [r["provenance"]["error"] for r in res["dlq"]]
    assert "HTTP 500" in errors[0]
    # the third failure opens the circuit: from then on events fail fast without a request
    assert all("circuit open" in e for e in errors[1:])
    assert llm_server.count(500) == 3  # 2 + 1 attempts; the SDK itself retried nothing


async def test_broken_replies_fall_back_to_the_symbolic_default(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    llm_server.faults(malformed_json={"always": True})
    res = await run(
        tmp_path, llm_server, "{max_attempts: 1, on_exhausted: default, default: {risk: unknown}}"
    )
    assert {r["payload"]["claim_id"]: r["payload"]["risk"] for r in res["out"]} == {
        "C0": "unknown",
        "C1": "unknown",
        "C2": None,
        "C3": "unknown",
        "C4": "unknown",
    }
    assert res["dlq"] == []
    kinds = [r.kind for r in res["rows"] if r.step == "assess"]
    assert kinds.count("defaulted") == 4 and kinds.count("error") == 4
    assert llm_server.count() == 8  # one repair attempt per event, no more


async def test_rate_limit_429s_are_waited_out_not_failed(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    # 2 requests per 2 s window, Retry-After the time until the window lets one through: the third of the
    # four requests meets a 429 unless three replies took 2 s (a 0.3 s window was missed when loaded)
    llm_server.faults(rate_limit={"rpm": 2, "window_s": 2.0, "headers": False})
    res = await run(tmp_path, llm_server, "{max_attempts: 1}")
    assert len(res["out"]) == 5 and res["dlq"] == []
    assert llm_server.count(429) >= 1 and llm_server.count(200) == 4


async def test_rerun_is_served_from_the_cache(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    first = await run(tmp_path, llm_server, "{max_attempts: 1}", cache=True)
    calls = llm_server.count()
    second = await run(tmp_path, llm_server, "{max_attempts: 1}", cache=True)
    assert llm_server.count() == calls == 4
    assert [r["payload"] for r in second["out"]] == [r["payload"] for r in first["out"]]


@pytest.mark.parametrize(
    ("faults", "expected_requests", "error_word", "limit_s"),
    [
        ({"quota": {"always": True}}, 4, "quota", LIMIT_S),  # 429 insufficient_quota: never retried
        ({"bad_request": {"always": True}}, 4, "400", LIMIT_S),  # a request error: never retried
        ({"hang": {"always": True}}, 8, "timed out", TIMEOUT_S),  # never answered: timed out, retried once
        ({"schema_break": {"always": True}}, 8, "output", LIMIT_S),  # one repair, then the policy decides
    ],
)
async def test_each_fault_reaches_the_recovery_policy(
    tmp_path: Path,
    llm_server: LLMServerHandle,
    faults: dict[str, Any],
    expected_requests: int,
    error_word: str,
    limit_s: float,
) -> None:
    llm_server.faults(**faults)
    res = await run(tmp_path, llm_server, "{max_attempts: 1, on_exhausted: dlq}", limit_s=limit_s)
    assert [r["payload"]["claim_id"] for r in res["out"]] == ["C2"]  # the rest did not pass silently
    assert len(res["dlq"]) == 4
    assert all(error_word in r["provenance"]["error"].lower() for r in res["dlq"][:1])
    # the circuit breaker (3 failures) may cut later events short: never more requests than the rules allow
    assert 1 <= llm_server.count() <= expected_requests
    assert verify_rows(res["rows"]).ok


async def test_a_fallback_model_answers_when_the_primary_fails(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    llm_server.faults(server_error={"always": True, "models": ["dwf-test-model"]})
    spec = SPEC.replace(
        'when: "size(description) > 0"',
        'when: "size(description) > 0"\n        fallback_models: [dwf-fallback-model]',
    )
    pipeline = compile_pipeline(parse_spec(spec.replace("RETRY", "{max_attempts: 1}")))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    client = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, timeout_s=LIMIT_S),
        retry=RetryConfig(max_attempts=1, base_s=0.01, max_s=0.02),
    )
    rows: list[AuditRow] = []
    runtime = LocalRuntime(
        pipeline,
        topo,
        OutputFiles(tmp_path / "out", topo),
        collect_rows(rows),
        StepContext(clock=wall_clock_us, llm=client),
    )
    try:
        await runtime.run(EVENTS)
    finally:
        await client.aclose()
    out = read_jsonl(tmp_path / "out" / "dwf.risk.out.jsonl")
    assert {r["payload"]["claim_id"]: r["payload"]["risk"] for r in out}["C0"] == "high"
    used = [
        json.loads(r.details).get("dwf.llm.model_used")
        for r in rows
        if r.step == "assess" and r.kind == "emitted"
    ]
    assert "dwf-fallback-model" in used
