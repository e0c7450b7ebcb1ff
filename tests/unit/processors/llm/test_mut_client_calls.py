"""The LLM client's calls over HTTP against the project's test server (in-process, ephemeral port).

From processors/llm/client.py and docs/llm.md: every call returns an audit record named after the
OpenTelemetry GenAI conventions plus dwf.llm.* fields; a fallback answers when the primary fails and the
audit says so with the primary's errors; when every model fails the error names each; with repairs off
an invalid reply fails at once; the call's timeout is the step's, never above the endpoint's; the step's
own limiter is given back whatever happens; a cache hit is answered without a call.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.llm import LLMClient, LLMRequest, OutputSpec, RetryConfig
from dana_workflows.processors.llm.cache import MappingLLMCache
from dana_workflows.processors.llm.limits import RateLimiter
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.workflow.ir import FieldIR
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.llm_server import LLMServerHandle

pytestmark = pytest.mark.unit

llm_server_script = llm_server_plugin.llm_server_script
llm_server = llm_server_plugin.llm_server

QUICK = RetryConfig(max_attempts=2, max_rate_limit_waits=2, base_s=0.001, max_s=0.002)
OUT = OutputSpec(
    (
        FieldIR(name="risk", type="string"),
        FieldIR(name="confidence", type="double"),
        FieldIR(name="rationale", type="string"),
    ),
    "risk",
)
PRICES = {"input": 1.0, "output": 2.0}


def _req(**kw: object) -> LLMRequest:
    base: dict[str, object] = {"models": ("default",), "prompt": "my car was stolen", "output": OUT}
    base.update(kw)
    return LLMRequest(**base)  # type: ignore[arg-type]


@pytest.fixture
async def client(llm_server: LLMServerHandle) -> AsyncIterator[LLMClient]:
    c = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, timeout_s=5.0, price_per_mtok=PRICES),
        retry=QUICK,
        breaker_threshold=100,
    )
    yield c
    await c.aclose()


async def test_a_successful_call_is_audited_in_full(llm_server: LLMServerHandle, client: LLMClient) -> None:
    res = await client.complete(
        _req(template_id="t", template_version="2", prompt_hash="ph", temperature=0.1)
    )
    assert res.ok and res.output == {"risk": "high", "confidence": 0.9, "rationale": res.output["rationale"]}  # type: ignore[index]
    a = res.audit
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai_compatible"
    assert a["server.address"] == "127.0.0.1" and a["gen_ai.request.model"] == "dwf-test-model"
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.max_tokens"]) == (0.1, 512)
    assert (a["dwf.llm.template_id"], a["dwf.llm.template_version"], a["dwf.llm.prompt_hash"]) == (
        "t",
        "2",
        "ph",
    )
    assert a["dwf.llm.fallback_models"] == [] and a["dwf.llm.fallback_used"] is False
    assert (a["dwf.llm.attempts"], a["dwf.llm.rate_limited"], a["dwf.llm.repairs"]) == (1, 0, 0)
    assert a["dwf.llm.outcome"] == "ok" and a["dwf.llm.cache_hit"] is False and "dwf.llm.errors" not in a
    assert a["dwf.llm.model_used"] == "dwf-test-model"
    tokens_in, tokens_out = a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]
    assert tokens_in > 0 and tokens_out > 0
    assert a["dwf.llm.cost_usd"] == round((tokens_in * 1.0 + tokens_out * 2.0) / 1_000_000, 8)
    assert a["dwf.llm.output_hash"] == hashlib.sha256(canonical_json(res.output).encode()).hexdigest()
    assert len(a["dwf.llm.reply_hash"]) == 64 and "gen_ai.input.messages" not in a
    assert a["gen_ai.response.finish_reasons"] == ["stop"] and a["gen_ai.response.id"]


async def test_a_fallback_answers_and_the_audit_names_the_primarys_errors(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.faults(server_error={"always": True, "models": ["dwf-test-model"]})
    res = await client.complete(_req(models=("default", "dwf-fallback-model")))
    assert res.ok and res.model == "dwf-fallback-model"
    a = res.audit
    assert a["dwf.llm.fallback_used"] is True and a["dwf.llm.model_used"] == "dwf-fallback-model"
    assert a["dwf.llm.fallback_models"] == ["dwf-fallback-model"]
    assert a["dwf.llm.attempts"] == QUICK.max_attempts + 1
    assert len(a["dwf.llm.errors"]) == 1 and a["dwf.llm.errors"][0].startswith("dwf-test-model: HTTP 500: ")


async def test_when_every_model_fails_the_error_names_each(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.faults(server_error={"always": True})
    res = await client.complete(_req(models=("default", "dwf-fallback-model")))
    assert not res.ok and res.output is None and res.model == "dwf-test-model"
    assert res.error is not None and res.error.startswith("all models failed: dwf-test-model: HTTP 500: ")
    assert "; dwf-fallback-model: HTTP 500: " in res.error
    a = res.audit
    assert (a["error.type"], a["dwf.llm.outcome"], a["dwf.llm.error"]) == ("server_error", "error", res.error)
    assert a["dwf.llm.attempts"] == 2 * QUICK.max_attempts and a["dwf.llm.cost_usd"] == 0.0
    assert llm_server.count(500) == 2 * QUICK.max_attempts


async def test_with_repairs_off_an_invalid_reply_fails_at_once(llm_server: LLMServerHandle) -> None:
    llm_server.faults(malformed_json={"always": True})
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=QUICK, repair_attempts=0)
    try:
        res = await c.complete(_req())
    finally:
        await c.aclose()
    assert res.error is not None and res.error.startswith(
        "invalid output from dwf-test-model: the reply is not valid JSON"
    )
    assert res.audit["error.type"] == "output_invalid" and res.audit["dwf.llm.repairs"] == 0
    assert llm_server.count() == 1 and "gen_ai.response.id" in res.audit  # the bad reply is audited


async def test_an_invalid_reply_twice_names_the_one_repair(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    llm_server.faults(schema_break={"always": True})
    res = await client.complete(_req())
    assert res.error is not None
    assert res.error.startswith("invalid output from dwf-test-model after one repair attempt: ")
    assert res.audit["dwf.llm.repairs"] == 1 and res.audit["dwf.llm.attempts"] == 2


async def test_the_call_timeout_never_exceeds_the_endpoints(llm_server: LLMServerHandle) -> None:
    # the reply comes after 20 s: far past the endpoint's 0.3 s (which fires for sure on a loaded machine,
    # where 3 s left 2.7 s of margin), under the request's 30 s (a client that took that gets the reply)
    llm_server.faults(slow={"first": 1, "delay_s": 20.0})
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url, timeout_s=0.3), retry=RetryConfig(max_attempts=1))
    try:
        res = await c.complete(_req(timeout_s=30.0))
    finally:
        await c.aclose()
    assert not res.ok and res.audit["error.type"] == "timeout"


async def test_the_step_limiter_is_given_back_on_success_and_failure(
    llm_server: LLMServerHandle, client: LLMClient
) -> None:
    step = RateLimiter(concurrency=1, name="step")
    ok = await client.complete(_req(limiter=step))
    assert ok.ok
    llm_server.faults(bad_request={"always": True})
    failed = await client.complete(_req(limiter=step, prompt="another"))
    assert not failed.ok and failed.audit["error.type"] == "request"
    assert step.admitted == 2
    slot = await step.acquire()  # concurrency 1: free again, or this would wait for ever
    slot.finish()


async def test_a_cache_hit_makes_no_call_and_a_stored_prompt_is_kept(llm_server: LLMServerHandle) -> None:
    cache = MappingLLMCache({})
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=QUICK, cache=cache, store_prompts="store")
    try:
        first = await c.complete(_req(system="be brief"))
        second = await c.complete(_req(system="be brief"))
    finally:
        await c.aclose()
    assert llm_server.count() == 1
    assert first.output == second.output and second.audit["dwf.llm.cache_hit"] is True
    msgs = first.audit["gen_ai.input.messages"]
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith(
        "be brief\n\nReply with only a JSON object"
    )
    assert msgs[1] == {"role": "user", "content": "my car was stolen"}
    assert first.audit["gen_ai.output.messages"][0]["role"] == "assistant"
    assert second.audit["gen_ai.output.messages"] == first.audit["gen_ai.output.messages"]


async def test_a_failed_repair_call_is_named_in_the_error(llm_server: LLMServerHandle) -> None:
    llm_server.faults(malformed_json={"first": 1}, server_error={"every": 2})
    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url), retry=RetryConfig(max_attempts=1))
    try:
        res = await c.complete(_req())
    finally:
        await c.aclose()
    assert [e["status"] for e in llm_server.log()] == [200, 500]
    assert res.error is not None and res.error.startswith(
        "invalid output from dwf-test-model (the reply is not valid"
    )
    assert "; the repair call failed: HTTP 500: " in res.error
    assert res.audit["error.type"] == "output_invalid" and res.audit["dwf.llm.repairs"] == 1


async def test_a_call_the_endpoint_limits_can_never_admit_gives_the_step_slot_back(
    llm_server: LLMServerHandle,
) -> None:
    from dana_workflows.processors.llm.limits import LimitError

    c = LLMClient(LLMEndpoint(base_url=llm_server.base_url, tpm=10), retry=QUICK)
    step = RateLimiter(concurrency=1, name="step")
    try:
        with pytest.raises(LimitError, match="lower max_tokens or raise tpm"):
            await c.complete(_req(limiter=step))
        slot = await step.acquire()  # concurrency 1: given back, or this would wait for ever
        slot.finish()
    finally:
        await c.aclose()
    assert llm_server.count() == 0


def test_one_sdk_client_per_endpoint_key_and_loop_outside_a_loop_too() -> None:
    c = LLMClient()
    a = LLMEndpoint(base_url="http://127.0.0.1:9/v1")
    first = c._client(a)
    assert c._client(a) is first
    assert c._client(LLMEndpoint(base_url="http://127.0.0.1:9/v1", api_key="sk-other")) is not first  # type: ignore[arg-type]
    assert c._client(LLMEndpoint(base_url="http://127.0.0.1:8/v1")) is not first
