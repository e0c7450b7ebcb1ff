"""Every LLM fault, through the real ``openai`` client over HTTP against the project's test server.

Marked ``unit``: the server is ours, in-process, on an ephemeral port; no Kafka, no ClickHouse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.llm import LLMClient, LLMProcessor, RetryConfig, SqliteLLMCache
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR, LLMLimitsIR, LLMStepIR
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.llm_server import LLMServerHandle

pytestmark = pytest.mark.unit

# the fixtures, whether or not the root conftest registers the plugin
llm_server_script = llm_server_plugin.llm_server_script
llm_server = llm_server_plugin.llm_server

FAST = RetryConfig(max_attempts=3, max_rate_limit_waits=8, base_s=0.01, max_s=0.05)
OUTPUT = (
    FieldIR(name="risk", type="string"),
    FieldIR(name="confidence", type="double"),
    FieldIR(name="rationale", type="string"),
)


def make_step(**kw: Any) -> LLMStepIR:
    base: dict[str, Any] = {
        "name": "fraud_risk",
        "prompt": "Assess the fraud risk of this claim: {{ description }}",
        "output": OUTPUT,
    }
    base.update(kw)
    return LLMStepIR(**base)


def envelope(description: str, n: int = 0) -> Envelope:
    return Envelope(f"e{n}", f"r{n}", "claims", 1, "intake", {"description": description, "amount": 500.0})


@pytest.fixture
async def client(llm_server: LLMServerHandle) -> AsyncIterator[LLMClient]:
    c = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, api_key="sk-test-SECRET", timeout_s=5.0),
        retry=FAST,
        breaker_threshold=100,
    )
    yield c
    await c.aclose()


def ctx_for(client: LLMClient) -> StepContext:
    return StepContext(clock=lambda: 0, llm=client)


async def run(
    proc: LLMProcessor, client: LLMClient, description: str = "my car was stolen", n: int = 0
) -> Any:
    return await proc.process(envelope(description, n), ctx_for(client))


async def test_success_merges_typed_output_and_records_audit(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.payload["risk"] == "high" and out.envelope.payload["confidence"] == 0.9
    assert out.envelope.provenance["model"] == "dwf-test-model"
    assert len(out.envelope.provenance["prompt_hash"]) == 64
    d = out.details
    assert d["gen_ai.request.model"] == "dwf-test-model" and d["gen_ai.response.id"] == "chatcmpl-test-1"
    assert d["gen_ai.usage.input_tokens"] > 0 and d["dwf.llm.attempts"] == 1 and d["dwf.llm.outcome"] == "ok"
    assert "sk-test-SECRET" not in repr(d) and "sk-test-SECRET" not in repr(client)
    assert llm_server.log()[0]["response_format"] == "json_schema"


async def test_sdk_retries_are_off(llm_server: LLMServerHandle, client: LLMClient) -> None:
    """The server sees exactly our attempts: one 500 then a success is two requests, not more."""
    llm_server.faults(server_error={"first": 1})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.EMIT
    log = llm_server.log()
    assert [e["status"] for e in log] == [500, 200]
    assert out.details["dwf.llm.attempts"] == 2
    assert all(e["sdk_retry_count"] in (None, "0") for e in log)


async def test_5xx_retried_with_backoff_then_success(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(server_error={"first": 2})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.EMIT
    assert [e["status"] for e in llm_server.log()] == [500, 500, 200]


async def test_5xx_exhausted_fails_the_step(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(server_error={"always": True})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.FAIL
    assert llm_server.count() == FAST.max_attempts
    assert out.details["error.type"] == "server_error" and out.details["dwf.llm.outcome"] == "error"


async def test_timeout_retried(llm_server: LLMServerHandle) -> None:
    # The first request is never answered (`hang`), so it times out for sure. The one limit serves both
    # attempts: it is waited out once and must leave the retry's normal reply time on a loaded machine
    # (0.3 s did not; at load 17 one normal reply in 150 took 1.3 s).
    llm_server.faults(hang={"first": 1})
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url, timeout_s=3.0), retry=FAST)
    try:
        out = await run(LLMProcessor(make_step(), "claims"), c)
    finally:
        await c.aclose()
    assert out.kind is OutcomeKind.EMIT
    assert llm_server.count() == 2 and out.details["dwf.llm.attempts"] == 2
    assert [e["fault"] for e in llm_server.log()] == ["hang", None]  # the retry was answered


async def test_429_retry_after_honoured(llm_server: LLMServerHandle, client: LLMClient) -> None:
    """Server: 2 requests per 1 s window; the client has no limits of its own, so it meets 429s and must
    wait at least Retry-After before its next request. The server is the judge: it rounds Retry-After up
    and answers 429 again to a request that comes before the window lets one through, so a 200 right after
    each 429 is the proof (not the clock: the log's times are taken apart from the server's admission)."""
    llm_server.faults(rate_limit={"rpm": 2, "window_s": 1.0, "retry_after": "ms", "headers": False})
    proc = LLMProcessor(make_step(), "claims")
    outs = [await run(proc, client, f"claim {i}", i) for i in range(4)]
    assert all(o.kind is OutcomeKind.EMIT for o in outs)
    log = llm_server.log()
    limited = [i for i, e in enumerate(log) if e["status"] == 429]
    assert limited
    for i in limited:  # the next request came no sooner than the window let one through
        assert log[i + 1]["status"] == 200
    assert sum(o.details["dwf.llm.rate_limited"] for o in outs) == len(limited)


async def test_x_ratelimit_headers_prevent_429(llm_server: LLMServerHandle, client: LLMClient) -> None:
    """With x-ratelimit-remaining-requests: 0 and a reset, the client pauses before the server must refuse."""
    llm_server.faults(rate_limit={"rpm": 2, "window_s": 1.0})
    proc = LLMProcessor(make_step(), "claims")
    outs = [await run(proc, client, f"claim {i}", i) for i in range(4)]
    assert all(o.kind is OutcomeKind.EMIT for o in outs)
    assert llm_server.count(429) == 0 and llm_server.count() == 4


async def test_retry_after_ms_preferred_over_retry_after(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    """Both headers sent, disagreeing: 0.3 s in retry-after-ms, 30 s in retry-after. Waiting the ms value
    means the retry comes at least 0.3 s later and long before 30 s."""
    llm_server.faults(
        rate_limit={
            "rpm": 1,
            "window_s": 0.3,
            "retry_after": "both",
            "retry_after_s": 30,
            "retry_after_ms": 300,
            "headers": False,
        }
    )
    proc = LLMProcessor(make_step(), "claims")
    for i in range(2):
        assert (await run(proc, client, f"claim {i}", i)).kind is OutcomeKind.EMIT
    log = llm_server.log()
    first_429 = next(i for i, e in enumerate(log) if e["status"] == 429)
    gap = log[first_429 + 1]["mono"] - log[first_429]["mono"]
    assert 0.3 <= gap < 30


async def test_retry_after_seconds_used_when_alone(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(
        rate_limit={"rpm": 1, "window_s": 1.0, "retry_after": "seconds", "retry_after_s": 1, "headers": False}
    )
    proc = LLMProcessor(make_step(), "claims")
    for i in range(2):
        assert (await run(proc, client, f"claim {i}", i)).kind is OutcomeKind.EMIT
    log = llm_server.log()
    first_429 = next(i for i, e in enumerate(log) if e["status"] == 429)
    assert log[first_429 + 1]["mono"] - log[first_429]["mono"] >= 1.0


async def test_insufficient_quota_not_retried(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(quota={"always": True})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.FAIL
    assert llm_server.count() == 1
    assert out.details["error.type"] == "insufficient_quota"


async def test_400_not_retried(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(bad_request={"always": True})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.FAIL
    assert llm_server.count() == 1
    assert out.details["error.type"] == "request"


async def test_malformed_json_repaired_once(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(malformed_json={"first": 1})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.EMIT and out.envelope.payload["risk"] == "high"
    log = llm_server.log()
    assert len(log) == 2 and log[1]["messages"] == 4  # system, user, the bad reply, the repair request
    assert out.details["dwf.llm.repairs"] == 1


async def test_malformed_json_twice_fails(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(malformed_json={"always": True})
    out = await run(LLMProcessor(make_step(), "claims"), client)
    assert out.kind is OutcomeKind.FAIL and "not valid JSON" in (out.error or "")
    assert llm_server.count() == 2  # the call and exactly one repair
    assert out.details["error.type"] == "output_invalid"


async def test_schema_break_repaired_then_failure(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(schema_break={"first": 1})
    ok = await run(LLMProcessor(make_step(), "claims"), client)
    assert ok.kind is OutcomeKind.EMIT and ok.details["dwf.llm.repairs"] == 1
    llm_server.faults(schema_break={"always": True})
    llm_server.reset_log()
    bad = await run(LLMProcessor(make_step(), "claims"), client, "another claim", 2)
    assert bad.kind is OutcomeKind.FAIL and "does not match the output fields" in (bad.error or "")
    assert llm_server.count() == 2


async def test_circuit_breaker_opens_and_fails_fast(llm_server: LLMServerHandle) -> None:
    llm_server.faults(server_error={"always": True})
    c = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url), retry=FAST, breaker_threshold=3, breaker_cooldown_s=60
    )
    proc = LLMProcessor(make_step(), "claims")
    try:
        first = await run(proc, c, "a", 1)  # 3 attempts: the breaker opens on the third failure
        assert first.kind is OutcomeKind.FAIL and llm_server.count() == 3
        second = await run(proc, c, "b", 2)
    finally:
        await c.aclose()
    assert second.kind is OutcomeKind.FAIL and second.details["error.type"] == "circuit_open"
    assert llm_server.count() == 3  # failed fast: no new request


async def test_circuit_breaker_half_opens_after_cooldown(llm_server: LLMServerHandle) -> None:
    llm_server.faults(server_error={"first": 2})
    retry = RetryConfig(max_attempts=2, base_s=0.01, max_s=0.01)
    now = [1000.0]  # the breakers' clock, moved by the test: the cooldown is 30 s of it, no real wait
    c = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url),
        retry=retry,
        breaker_threshold=2,
        breaker_cooldown_s=30.0,
        breaker_clock=lambda: now[0],
    )
    proc = LLMProcessor(make_step(), "claims")
    try:
        assert (await run(proc, c, "a", 1)).kind is OutcomeKind.FAIL  # two failures: the breaker opens
        now[0] = 1029.9
        assert (await run(proc, c, "b", 2)).details["error.type"] == "circuit_open"  # still cooling down
        assert llm_server.count() == 2
        now[0] = 1030.0
        recovered = await run(proc, c, "c", 3)  # 30 s after opening: one trial call, which succeeds
    finally:
        await c.aclose()
    assert recovered.kind is OutcomeKind.EMIT and llm_server.count() == 3


async def test_fallback_model_used_when_primary_fails(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(server_error={"always": True, "models": ["dwf-test-model"]})
    out = await run(LLMProcessor(make_step(fallback_models=("dwf-fallback-model",)), "claims"), client)
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.provenance["model"] == "dwf-fallback-model"
    assert out.details["dwf.llm.fallback_used"] is True
    assert [e["model"] for e in llm_server.log()] == ["dwf-test-model"] * FAST.max_attempts + [
        "dwf-fallback-model"
    ]


async def test_quota_on_primary_goes_to_fallback(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(quota={"always": True, "models": ["dwf-test-model"]})
    out = await run(LLMProcessor(make_step(fallback_models=("dwf-fallback-model",)), "claims"), client)
    assert out.kind is OutcomeKind.EMIT and llm_server.count() == 2


async def test_json_mode_when_json_schema_unsupported(llm_server: LLMServerHandle, client: LLMClient) -> None:
    llm_server.faults(json_schema_unsupported=True)
    proc = LLMProcessor(make_step(), "claims")
    assert (await run(proc, client, "a", 1)).kind is OutcomeKind.EMIT
    assert (await run(proc, client, "b", 2)).kind is OutcomeKind.EMIT
    assert [e["response_format"] for e in llm_server.log()] == ["json_schema", "json_object", "json_object"]


async def test_cache_hit_makes_zero_new_calls(llm_server: LLMServerHandle, tmp_path: Any) -> None:
    """The file cache survives a restart: a new client over the same directory answers from it."""
    step = make_step()
    for round_ in range(2):
        c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), cache=SqliteLLMCache(tmp_path), retry=FAST)
        try:
            outs = [
                await run(LLMProcessor(step, "claims"), c, d, i) for i, d in enumerate(["stolen car", "dent"])
            ]
        finally:
            await c.aclose()
        assert llm_server.count() == 2  # the second round made no call at all
        assert [o.details["dwf.llm.cache_hit"] for o in outs] == [round_ == 1] * 2
        assert [o.envelope.payload["risk"] for o in outs] == ["high", "low"]


async def test_state_mapping_cache_when_client_has_none(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    ctx = ctx_for(client)
    proc = LLMProcessor(make_step(), "claims")
    a = await proc.process(envelope("stolen"), ctx)
    b = await proc.process(envelope("stolen", 1), ctx)
    assert llm_server.count() == 1 and b.details["dwf.llm.cache_hit"] is True
    assert a.envelope.payload == b.envelope.payload
    assert any(k.startswith("llm-cache:") for k in ctx.state)


async def test_when_false_skips_the_call(llm_server: LLMServerHandle, client: LLMClient) -> None:
    out = await run(LLMProcessor(make_step(when="amount > 1000.0"), "claims"), client)
    assert out.kind is OutcomeKind.EMIT
    assert out.envelope.payload["risk"] is None and out.details["dwf.llm.outcome"] == "skipped"
    assert llm_server.count() == 0


async def test_store_prompts_store_vs_hash(llm_server: LLMServerHandle) -> None:
    for mode in ("store", "hash"):
        c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), store_prompts=mode)  # type: ignore[arg-type]
        try:
            out = await run(LLMProcessor(make_step(), "claims"), c, "stolen bike")
        finally:
            await c.aclose()
        text = repr(out.details)
        assert ("stolen bike" in text) is (mode == "store")
        assert ("dwf.llm.reply_hash" in out.details) is (mode == "hash")


async def test_no_burst_under_twice_the_load(llm_server: LLMServerHandle) -> None:
    """Limiter at N per (scaled) window, 2N events offered at once: no window of that length on the
    server's clock ever holds more than N requests, and the server (enforcing N) never says 429."""
    n, window = 5, 1.0
    llm_server.faults(rate_limit={"rpm": n, "window_s": window})
    step = make_step(limits=LLMLimitsIR(rpm=n, concurrency=8))
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=FAST)
    proc = LLMProcessor(step, "claims", window_s=window)
    import asyncio

    try:
        outs = await asyncio.gather(*(run(proc, c, f"claim {i}", i) for i in range(2 * n)))
    finally:
        await c.aclose()
    assert all(o.kind is OutcomeKind.EMIT for o in outs)
    log = llm_server.log()
    assert all(e["status"] == 200 for e in log) and len(log) == 2 * n
    times = sorted(e["mono"] for e in log)
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u - t < window)
        assert in_window <= n, f"{in_window} requests within {window}s starting at request {i}"
