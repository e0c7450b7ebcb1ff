"""The LLM client's pure parts and the retry layer's edges, without any HTTP.

Expected values come from the documented rules (processors/llm/retry.py, client.py docstrings and
docs/llm.md): prices are USD per million tokens with cached input at its own price (the input price when
none is set); the breaker opens at exactly ``threshold`` consecutive failures and half-opens once
``cooldown_s`` has passed; waits are never negative; the provider is named after the OpenTelemetry GenAI
conventions from the endpoint's host.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx2
import openai
import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.llm import LLMClient, LLMRequest, OutputSpec
from dana_workflows.processors.llm.client import (
    _mentions_response_format,
    _provider_name,
    _Target,
    _transient_type,
)
from dana_workflows.processors.llm.retry import (
    CallError,
    CircuitBreaker,
    CircuitState,
    ErrorKind,
    RetryConfig,
    classify,
    parse_retry_after,
)
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

REQ = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
FIELDS = (FieldIR(name="risk", type="string"), FieldIR(name="score", type="double"))


def _status(status: int, body: object = None, **headers: str) -> openai.APIStatusError:
    client = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
    response = httpx2.Response(status, request=REQ, headers=headers)
    return client._make_status_error(f"Error code: {status}", body=body, response=response)


# -- cost -------------------------------------------------------------------------------------------


def test_cost_is_zero_without_a_price_table() -> None:
    assert LLMClient.cost(LLMEndpoint(), 1_000_000, 1_000_000, 0) == 0.0


def test_cost_prices_fresh_cached_and_output_tokens_per_million() -> None:
    ep = LLMEndpoint(price_per_mtok={"input": 2.0, "output": 10.0, "cached_input": 0.5})
    # 1M input of which 400k cached: 600k * 2 + 400k * 0.5 + 200k * 10 = 1.2 + 0.2 + 2.0 USD
    assert LLMClient.cost(ep, 1_000_000, 200_000, 400_000) == pytest.approx(3.4)
    assert LLMClient.cost(ep, 1_000_000, 0) == pytest.approx(2.0)
    assert LLMClient.cost(ep, 0, 1_000_000) == pytest.approx(10.0)


def test_cached_input_costs_the_input_price_when_no_cached_price_is_set() -> None:
    ep = LLMEndpoint(price_per_mtok={"input": 3.0, "output": 1.0})
    assert LLMClient.cost(ep, 1_000_000, 0, 500_000) == pytest.approx(3.0)


def test_more_cached_than_input_tokens_never_gives_a_negative_fresh_count() -> None:
    ep = LLMEndpoint(price_per_mtok={"input": 4.0, "cached_input": 1.0})
    assert LLMClient.cost(ep, 100, 0, 1_000_000) == pytest.approx(1.0)


def test_cost_keeps_eight_decimals() -> None:
    ep = LLMEndpoint(price_per_mtok={"input": 1.0})
    assert LLMClient.cost(ep, 1, 0) == 0.000001
    assert LLMClient.cost(ep, 123, 0) == 0.000123


# -- provider, errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://myres.openai.azure.com/openai", "azure.ai.openai"),
        ("http://127.0.0.1:8080/v1", "openai_compatible"),
        ("not a url", "openai_compatible"),
    ],
)
def test_the_provider_is_named_from_the_host(url: str, name: str) -> None:
    assert _provider_name(url) == name


def test_a_transient_failure_is_typed_timeout_connection_or_server() -> None:
    assert _transient_type(openai.APITimeoutError(REQ)) == "timeout"
    assert _transient_type(openai.APIConnectionError(request=REQ)) == "connection_error"
    assert _transient_type(_status(503)) == "server_error"


def test_a_request_error_mentions_response_format_in_its_message_or_param() -> None:
    def bad(message: str, param: str | None) -> openai.BadRequestError:
        response = httpx2.Response(400, request=REQ)
        return openai.BadRequestError(message, response=response, body={"message": message, "param": param})

    assert _mentions_response_format(bad("response_format json_schema unsupported", None))
    assert _mentions_response_format(bad("bad", "response_format"))
    assert not _mentions_response_format(bad("bad", "messages"))


# -- resolve, request keys ----------------------------------------------------------------------------


def test_aliases_resolve_to_endpoints_and_share_limiter_and_breaker_per_model() -> None:
    other = LLMEndpoint(base_url="http://10.0.0.1/v1", model="big")
    c = LLMClient(LLMEndpoint(model="dflt"), {"strong": other})
    assert c.resolve("default").model == "dflt"
    assert c.resolve("").model == "dflt"
    assert c.resolve("strong").model == "big" and c.resolve("strong").endpoint is other
    unknown = c.resolve("gpt-x")  # an unknown alias is a model on the default endpoint
    assert unknown.model == "gpt-x" and unknown.endpoint.base_url == c.default.base_url
    assert c.resolve("default").breaker is c.resolve("").breaker
    assert c.resolve("default").limiter is c.resolve("").limiter
    assert c.resolve("gpt-x").breaker is not c.resolve("default").breaker
    assert c.resolve("strong") is c.resolve("strong")


def test_the_breakers_take_the_clients_threshold_cooldown_and_clock() -> None:
    now = [0.0]
    c = LLMClient(breaker_threshold=2, breaker_cooldown_s=5.0, breaker_clock=lambda: now[0])
    b = c.resolve("default").breaker
    b.failure()
    assert b.state is CircuitState.CLOSED
    b.failure()
    assert b.state is CircuitState.OPEN
    now[0] = 4.999
    assert b.state is CircuitState.OPEN
    now[0] = 5.0
    assert b.state is CircuitState.HALF_OPEN


def test_the_request_key_changes_with_every_part_of_the_request_and_only_with_them() -> None:
    c = LLMClient()
    spec = OutputSpec(FIELDS, "s")
    base = LLMRequest(models=("default",), prompt="p", output=spec)
    k = c.request_key(base)
    assert k == c.request_key(LLMRequest(models=("default",), prompt="p", output=spec, template_id="t"))
    variants = [
        LLMRequest(models=("other",), prompt="p", output=spec),
        LLMRequest(models=("default",), prompt="q", output=spec),
        LLMRequest(models=("default",), prompt="p", output=spec, system="s"),
        LLMRequest(models=("default",), prompt="p", output=spec, temperature=0.5),
        LLMRequest(models=("default",), prompt="p", output=spec, max_tokens=10),
        LLMRequest(models=("default",), prompt="p", output=OutputSpec(FIELDS[:1], "s")),
        LLMRequest(models=("default",), prompt="p", output=spec, history=({"role": "user", "content": "x"},)),
    ]
    keys = {c.request_key(v) for v in variants}
    assert k not in keys and len(keys) == len(variants)


def test_repr_names_the_endpoints_never_the_key() -> None:
    c = LLMClient(
        LLMEndpoint(base_url="http://h/v1", api_key="sk-SECRET"), {"b": LLMEndpoint(), "a": LLMEndpoint()}
    )
    assert repr(c) == "LLMClient(default='http://h/v1', endpoints=['a', 'b'])"


# -- the reply and the audit of a cache hit -------------------------------------------------------------


def _target() -> _Target:
    return LLMClient().resolve("default")


def test_a_reply_reads_text_ids_reason_and_usage() -> None:
    completion = SimpleNamespace(
        id="cmpl-1",
        model="m-2026",
        choices=[SimpleNamespace(message=SimpleNamespace(content="{}"), finish_reason="stop")],
        usage=SimpleNamespace(
            prompt_tokens=11, completion_tokens=7, prompt_tokens_details=SimpleNamespace(cached_tokens=3)
        ),
    )
    r = LLMClient._reply(completion, _target())
    assert (r.text, r.response_id, r.response_model, r.finish_reason) == ("{}", "cmpl-1", "m-2026", "stop")
    assert (r.input_tokens, r.output_tokens, r.cached_tokens) == (11, 7, 3)


def test_a_reply_without_choices_usage_or_ids_falls_back_to_empty_and_the_target_model() -> None:
    completion = SimpleNamespace(id=None, model=None, choices=[], usage=None)
    r = LLMClient._reply(completion, _target())
    assert (r.text, r.response_id, r.response_model, r.finish_reason) == (None, "", "dwf-test-model", "")
    assert (r.input_tokens, r.output_tokens, r.cached_tokens) == (0, 0, 0)
    no_details = SimpleNamespace(
        id="i",
        model="m",
        choices=[SimpleNamespace(message=SimpleNamespace(content=None), finish_reason=None)],
        usage=SimpleNamespace(prompt_tokens=1, completion_tokens=2, prompt_tokens_details=None),
    )
    r = LLMClient._reply(no_details, _target())
    assert r.finish_reason == "" and r.cached_tokens == 0 and r.input_tokens == 1 and r.output_tokens == 2


def test_a_cache_hit_is_free_in_the_spec_field_order_and_says_so() -> None:
    c = LLMClient(store_prompts="store")
    hit = {
        "output": {"score": 0.5, "risk": "low"},
        "response_id": "r1",
        "response_model": "m1",
        "finish_reason": "stop",
        "reply_hash": "h",
        "reply": "{...}",
    }
    res = c._from_cache(hit, {}, 0.0, FIELDS)
    assert list(res.output or {}) == ["risk", "score"]
    a = res.audit
    assert a["dwf.llm.cache_hit"] is True and a["dwf.llm.cost_usd"] == 0.0
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["dwf.llm.model_used"] == "m1" and res.model == "m1"
    assert a["dwf.llm.reply_hash"] == "h" and a["dwf.llm.outcome"] == "ok"
    assert a["gen_ai.output.messages"] == [{"role": "assistant", "content": "{...}"}]
    assert a["dwf.llm.attempts"] == 0 and a["gen_ai.usage.input_tokens"] == 0
    hashed = LLMClient()._from_cache({"output": {"risk": "x"}}, {}, 0.0, FIELDS)
    assert hashed.output == {"risk": "x", "score": None}
    assert hashed.audit["gen_ai.response.finish_reasons"] == []
    assert "gen_ai.output.messages" not in hashed.audit


# -- Retry-After, classification, backoff, breaker edges -------------------------------------------


def test_retry_after_is_never_negative_and_a_bad_ms_value_falls_back_to_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "-500"}) == 0.0
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "x"}) is None
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (407, ErrorKind.REQUEST),
        (410, ErrorKind.REQUEST),
        (499, ErrorKind.REQUEST),
        (500, ErrorKind.TRANSIENT),
        (599, ErrorKind.TRANSIENT),
    ],
)
def test_the_5xx_boundary(status: int, kind: ErrorKind) -> None:
    err = classify(_status(status, {"message": "m"}))
    assert err.kind is kind and err.status == status
    assert err.message.startswith(f"HTTP {status}: ")


def test_a_transient_status_carries_its_retry_after_and_a_request_error_none() -> None:
    assert classify(_status(503, None, **{"retry-after": "7"})).retry_after_s == 7.0
    assert classify(_status(400, None, **{"retry-after": "7"})).retry_after_s is None
    quota = classify(_status(429, {"type": "insufficient_quota"}, **{"retry-after": "7"}))
    assert quota.kind is ErrorKind.QUOTA and quota.retry_after_s is None and quota.status == 429


def test_an_invalid_response_is_transient_and_anything_else_is_raised() -> None:
    err = classify(openai.APIError("not a completion", REQ, body=None))
    assert err.kind is ErrorKind.TRANSIENT and err.message == "invalid response: not a completion"
    assert classify(openai.APITimeoutError(REQ)).message == "timed out"
    assert (
        classify(openai.APIConnectionError(message="refused", request=REQ)).message
        == f"connection error: refused ({REQ.url} unreachable; check the endpoint's base_url, "
        "e.g. DWF_LLM_DEFAULT__BASE_URL)"
    )
    with pytest.raises(KeyError):
        classify(KeyError("x"))


def test_only_rate_limits_and_transient_errors_are_retryable() -> None:
    assert [CallError(k, "m").retryable for k in ErrorKind] == [
        k in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT) for k in ErrorKind
    ]
    assert CallError(ErrorKind.QUOTA, "m").retryable is False
    assert CallError(ErrorKind.REQUEST, "m").retryable is False


def test_backoff_draws_from_zero_to_the_capped_exponential() -> None:
    seen: list[tuple[float, float]] = []

    def rng(lo: float, hi: float) -> float:
        seen.append((lo, hi))
        return hi

    cfg = RetryConfig(base_s=1.0, max_s=5.0)
    assert cfg.backoff(0, rng) == 1.0  # no failure yet counts as the first
    assert cfg.backoff(1, rng) == 1.0
    assert cfg.backoff(3, rng) == 4.0
    assert cfg.backoff(4, rng) == 5.0
    assert all(lo == 0.0 for lo, _ in seen)
    assert RetryConfig().max_attempts == 4 and RetryConfig().max_rate_limit_waits == 8


def test_the_breaker_opens_at_exactly_the_threshold_and_the_cooldown_counts_from_opening() -> None:
    now = [100.0]
    b = CircuitBreaker(threshold=3, cooldown_s=10.0, clock=lambda: now[0])
    b.failure()
    b.failure()
    assert b.state is CircuitState.CLOSED and b.allow() and b.failures == 2
    now[0] = 103.0
    b.failure()
    assert b.state is CircuitState.OPEN and not b.allow()
    now[0] = 112.999
    assert b.state is CircuitState.OPEN
    now[0] = 113.0
    assert b.state is CircuitState.HALF_OPEN
    assert b.allow() and not b.allow()
    b.failure()  # a failed trial opens it again at once, whatever the count
    assert b.state is CircuitState.OPEN
    now[0] = 122.0
    assert b.state is CircuitState.OPEN
    now[0] = 123.0
    assert b.allow()
    b.success()
    assert b.state is CircuitState.CLOSED and b.failures == 0
    b.failure()
    assert b.state is CircuitState.CLOSED  # the count started again


def test_neutral_answers_do_not_count_and_leave_the_breaker_closed() -> None:
    b = CircuitBreaker(threshold=1, cooldown_s=1.0, clock=lambda: 0.0)
    b.neutral()
    assert b.state is CircuitState.CLOSED and b.failures == 0 and b.allow()
