"""The one retry layer: what to retry, how long to wait, and when to stop calling a model at all.

The SDK's own retries are off (``max_retries=0``), so every attempt here is one request on the wire.
Retried: 429 rate limits (after Retry-After), 5xx, 408 request timeout and 409 conflict (transient, as
in the ``openai`` SDK's own retry policy), timeouts and connection errors. Never retried: a 429 whose code
is ``insufficient_quota`` (waiting does not add credit) and any other 4xx (the request is wrong and will
stay wrong).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

import openai


class ErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: wait, then retry
    TRANSIENT = "transient"  # 5xx, timeout, connection: back off, retry, count towards the breaker
    QUOTA = "insufficient_quota"  # 429 insufficient_quota: never retry
    REQUEST = "request"  # other 4xx: never retry


@dataclass(slots=True, frozen=True)
class CallError:
    kind: ErrorKind
    message: str
    status: int | None = None
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT)


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait: ``retry-after-ms`` first (OpenAI's precise form), then ``retry-after``
    (seconds or an HTTP date, counted from ``now``: the wall clock, epoch seconds)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def classify(exc: BaseException) -> CallError:
    """What a failed call means for the retry loop."""
    if isinstance(exc, openai.APITimeoutError):
        return CallError(ErrorKind.TRANSIENT, "timed out")
    if isinstance(exc, openai.APIConnectionError):
        # the address, so that a server that is down or a wrong base_url reads as such in the run's summary
        where = f"{exc.request.url.scheme}://{exc.request.url.netloc.decode()}{exc.request.url.path}"
        return CallError(
            ErrorKind.TRANSIENT,
            f"connection error: {exc.message} ({where} unreachable; check the endpoint's base_url, "
            "e.g. DWF_LLM_DEFAULT__BASE_URL)",
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        headers = exc.response.headers
        message = f"HTTP {status}: {exc.message}"
        if status == 429:
            if exc.code == "insufficient_quota" or exc.type == "insufficient_quota":
                return CallError(ErrorKind.QUOTA, message, status)
            return CallError(ErrorKind.RATE_LIMITED, message, status, parse_retry_after(headers))
        if status >= 500 or status in (408, 409):
            return CallError(ErrorKind.TRANSIENT, message, status, parse_retry_after(headers))
        return CallError(ErrorKind.REQUEST, message, status)
    if isinstance(exc, openai.APIError):  # e.g. a body that is not a chat completion
        return CallError(ErrorKind.TRANSIENT, f"invalid response: {exc.message}")
    raise exc


@dataclass(slots=True, frozen=True)
class RetryConfig:
    max_attempts: int = 4  # per model, for transient errors (the first attempt included)
    max_rate_limit_waits: int = 8  # 429s tolerated per call on top of that: they cost waiting, not errors
    base_s: float = 0.5
    max_s: float = 20.0

    def backoff(self, failures: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Full-jitter exponential backoff: uniform(0, min(max, base * 2**(failures-1)))."""
        return rng(0.0, min(self.max_s, self.base_s * 2 ** max(0, failures - 1)))


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive transient failures; after ``cooldown_s`` lets one trial
    call through (half-open): success closes it, failure opens it again."""

    def __init__(
        self, threshold: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self._opened_at = 0.0
        self._state = CircuitState.CLOSED
        self._trial_out = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self._state = CircuitState.HALF_OPEN
            self._trial_out = False
        return self._state

    def allow(self) -> bool:
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self._state = CircuitState.CLOSED
        self._trial_out = False

    def neutral(self) -> None:
        """An answer that says nothing about the model's health (429, 4xx): free the trial slot."""
        self._trial_out = False

    def failure(self) -> None:
        self.failures += 1
        if self._state is CircuitState.HALF_OPEN or self.failures >= self.threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
            self._trial_out = False
