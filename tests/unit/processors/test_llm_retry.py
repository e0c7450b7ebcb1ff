"""Retry classification, header precedence, backoff and the circuit breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import openai
import pytest
from aiohttp import web

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.llm import LLMClient, LLMRequest, OutputSpec
from dana_workflows.processors.llm.retry import (
    CircuitBreaker,
    CircuitState,
    ErrorKind,
    RetryConfig,
    classify,
    parse_retry_after,
)
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

RETRY_OUTPUT = (FieldIR(name="risk", type="string"),)
REQ = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def status_error(
    cls: type[openai.APIStatusError], status: int, body: Any, **headers: str
) -> openai.APIStatusError:
    response = httpx2.Response(status, request=REQ, headers=headers)
    return cls(f"Error code: {status}", response=response, body=body)


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "30"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after-ms": "bad", "retry-after": "3"}) == 3.0


def test_retry_after_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # the wall clock, injected
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=now.timestamp) == 30.0
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now.timestamp) == 0.0  # never a negative wait
    assert parse_retry_after({"retry-after": "next tuesday"}, now=now.timestamp) is None


def test_classification() -> None:
    limited = classify(
        status_error(openai.RateLimitError, 429, {"code": "rate_limit_exceeded"}, **{"retry-after-ms": "120"})
    )
    assert limited.kind is ErrorKind.RATE_LIMITED and limited.retry_after_s == 0.12 and limited.retryable
    quota = classify(
        status_error(openai.RateLimitError, 429, {"code": "insufficient_quota", "type": "insufficient_quota"})
    )
    assert quota.kind is ErrorKind.QUOTA and not quota.retryable
    assert classify(status_error(openai.InternalServerError, 503, None)).kind is ErrorKind.TRANSIENT
    assert classify(status_error(openai.BadRequestError, 400, {"message": "no"})).kind is ErrorKind.REQUEST
    assert classify(status_error(openai.AuthenticationError, 401, None)).kind is ErrorKind.REQUEST
    assert classify(openai.APITimeoutError(REQ)).kind is ErrorKind.TRANSIENT
    assert classify(openai.APIConnectionError(request=REQ)).kind is ErrorKind.TRANSIENT


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    cfg = RetryConfig(base_s=0.5, max_s=4.0)
    top = lambda lo, hi: hi  # noqa: E731 - the upper bound of the jitter range
    assert [cfg.backoff(n, top) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert all(0.0 <= cfg.backoff(3) <= 2.0 for _ in range(50))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    b.success()  # a success resets the count: failures must be consecutive
    for _ in range(3):
        b.failure()
    assert b.state is CircuitState.OPEN and not b.allow()
    clock.now = 10.0
    assert b.state is CircuitState.HALF_OPEN
    assert b.allow() and not b.allow()  # one trial only
    b.failure()
    assert b.state is CircuitState.OPEN
    clock.now = 20.0
    assert b.allow()
    b.success()
    assert b.state is CircuitState.CLOSED and b.allow()


def test_breaker_neutral_frees_the_trial() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=1, cooldown_s=1, clock=clock)
    b.failure()
    clock.now = 1.0
    assert b.allow()
    b.neutral()  # e.g. a 429 during the trial: no verdict, let the next caller try
    assert b.allow()


# -- which statuses are retried: pinned by status, and over HTTP through the real openai client ----------
# Never retried: a request error stays wrong however often it is sent. Retried: 408 (request timeout) and
# 409 (conflict / lock timeout) are transient by the openai SDK's own retry policy, 429 without
# insufficient_quota is a rate limit, 5xx is the server's fault (docs/llm.md, "Retries, breaker, fallbacks").
NEVER_RETRIED = (400, 401, 403, 404, 422)
RETRIED_TRANSIENT = (408, 409, 500, 502, 503, 504)
ATTEMPTS = 3
WAITS = 2
QUICK = RetryConfig(max_attempts=ATTEMPTS, max_rate_limit_waits=WAITS, base_s=0.001, max_s=0.002)


def sdk_error(status: int, body: Any = None) -> openai.APIStatusError:
    """The exception the openai client raises for ``status`` (its own status-to-class mapping)."""
    client = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
    response = httpx2.Response(status, request=REQ)
    return client._make_status_error(f"Error code: {status}", body=body, response=response)


@pytest.mark.parametrize("status", NEVER_RETRIED)
def test_request_errors_are_never_retried(status: int) -> None:
    err = classify(sdk_error(status, {"message": "no"}))
    assert err.kind is ErrorKind.REQUEST and not err.retryable and err.status == status


@pytest.mark.parametrize("status", RETRIED_TRANSIENT)
def test_timeouts_conflicts_and_5xx_are_retried(status: int) -> None:
    err = classify(sdk_error(status))
    assert err.kind is ErrorKind.TRANSIENT and err.retryable and err.status == status


def test_429_is_retried_unless_insufficient_quota() -> None:
    assert classify(sdk_error(429, {"code": "rate_limit_exceeded"})).kind is ErrorKind.RATE_LIMITED
    quota = classify(sdk_error(429, {"code": "insufficient_quota", "type": "insufficient_quota"}))
    assert quota.kind is ErrorKind.QUOTA and not quota.retryable


@pytest.fixture
async def status_server() -> AsyncIterator[tuple[str, list[int], dict[str, Any]]]:
    """A bare HTTP endpoint answering every chat completion with the status in ``reply``: the project's
    test server has faults for 400, 429 and 500 only; this one can answer 401/403/404/408/409/422/5xx."""
    seen: list[int] = []
    reply: dict[str, Any] = {"status": 500, "code": None}

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        seen.append(reply["status"])
        error = {"message": f"status {reply['status']} (test)", "type": reply["code"], "code": reply["code"]}
        headers = {"retry-after-ms": "1"} if reply["status"] == 429 else {}
        return web.json_response({"error": error}, status=reply["status"], headers=headers)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen, reply
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "code", "requests", "error_type"),
    [
        *((s, None, 1, "request") for s in NEVER_RETRIED),
        (429, "insufficient_quota", 1, "insufficient_quota"),
        (429, "rate_limit_exceeded", 1 + WAITS, "rate_limited"),
        *((s, None, ATTEMPTS, "server_error") for s in RETRIED_TRANSIENT),
    ],
)
async def test_requests_sent_per_status_over_http(
    status_server: tuple[str, list[int], dict[str, Any]],
    status: int,
    code: str | None,
    requests: int,
    error_type: str,
) -> None:
    base_url, seen, reply = status_server
    reply.update(status=status, code=code)
    client = LLMClient(LLMEndpoint(base_url=base_url), retry=QUICK, breaker_threshold=100)
    try:
        result = await client.complete(
            LLMRequest(models=("default",), prompt="claim 1", output=OutputSpec(RETRY_OUTPUT, "claims"))
        )
    finally:
        await client.aclose()
    assert not result.ok
    assert result.audit["error.type"] == error_type, result.audit
    assert seen == [status] * requests  # each one request on the wire: the SDK retried nothing itself
