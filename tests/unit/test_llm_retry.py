"""Retry classification, header precedence, backoff and the circuit breaker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx2
import openai
import pytest

from processors.llm.retry import (
    CircuitBreaker,
    CircuitState,
    ErrorKind,
    RetryConfig,
    classify,
    parse_retry_after,
)

pytestmark = pytest.mark.unit

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
    when = datetime.now(UTC) + timedelta(seconds=30)
    value = parse_retry_after({"retry-after": format_datetime(when, usegmt=True)})
    assert value is not None and 25 <= value <= 30


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
