"""The rate limiter: no window ever over the limit, no start-up burst, token reservations reconciled."""

from __future__ import annotations

import asyncio
import time

import pytest

from dana_workflows.processors.llm.limits import LimitError, RateLimiter, estimate_tokens, parse_duration

pytestmark = pytest.mark.unit


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < window) for i, t in enumerate(times)), default=0)


def test_parse_duration() -> None:
    assert parse_duration("1s") == 1.0
    assert parse_duration("6m0s") == 360.0
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration("0.25") == 0.25
    assert parse_duration(None) is None and parse_duration("soon") is None


def test_estimate_tokens_is_chars_over_four() -> None:
    assert estimate_tokens("abcd" * 100) == 104
    assert estimate_tokens("a", "b") == 10


async def test_no_window_holds_more_than_rpm_under_twice_the_load() -> None:
    n, window = 6, 0.6
    limiter = RateLimiter(rpm=n, window_s=window, concurrency=20)
    started: list[float] = []

    async def call() -> None:
        slot = await limiter.acquire(10)
        started.append(time.monotonic())
        await asyncio.sleep(0.005)
        slot.finish(10)

    await asyncio.gather(*(call() for _ in range(2 * n)))
    assert len(started) == 2 * n
    assert max_in_window(started, window) <= n


async def test_no_start_up_burst_admissions_are_spaced() -> None:
    """Smoothing: the first window's calls are spread over it, not all at t=0."""
    n, window = 4, 0.4
    limiter = RateLimiter(rpm=n, window_s=window)
    started: list[float] = []
    for _ in range(n):
        slot = await limiter.acquire()
        started.append(time.monotonic())
        slot.finish()
    # call i starts no sooner than i intervals after the first (the schedule, not a burst)
    assert all(t - started[0] >= i * window / n - 0.002 for i, t in enumerate(started))


async def test_unsmoothed_still_holds_the_window() -> None:
    n, window = 5, 0.5
    limiter = RateLimiter(rpm=n, window_s=window, smooth=False)
    started: list[float] = []
    for _ in range(2 * n):
        slot = await limiter.acquire()
        started.append(time.monotonic())
        slot.finish()
    assert max_in_window(started, window) <= n


async def test_tokens_reserved_then_reconciled_from_usage() -> None:
    limiter = RateLimiter(tpm=1000, window_s=0.5)
    a = await limiter.acquire(600)
    a.finish(100)  # the reply used far less than reserved: the window has room again at once
    b = await asyncio.wait_for(limiter.acquire(800), timeout=0.2)
    assert limiter._tokens == 900
    b.finish(800)


async def test_tokens_wait_for_the_window() -> None:
    window = 0.3
    limiter = RateLimiter(tpm=1000, window_s=window)
    a = await limiter.acquire(700)
    a.finish()
    t0 = time.monotonic()
    b = await limiter.acquire(700)
    assert (
        time.monotonic() - t0 >= window * 0.9
    )  # 700 + 700 > 1000: the second waits for the first to age out
    b.finish()


def test_oversized_call_is_a_clear_error() -> None:
    limiter = RateLimiter(tpm=100, name="claims.risk")
    with pytest.raises(LimitError, match=r"claims\.risk.*lower max_tokens or raise tpm"):
        asyncio.run(limiter.acquire(101))


def test_bad_limits_rejected() -> None:
    with pytest.raises(LimitError, match="rpm must be a positive"):
        RateLimiter(rpm=0)


async def test_concurrency_cap() -> None:
    limiter = RateLimiter(concurrency=2)
    running = 0
    peak = 0

    async def call() -> None:
        nonlocal running, peak
        slot = await limiter.acquire()
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        slot.finish()

    await asyncio.gather(*(call() for _ in range(8)))
    assert peak == 2


async def test_headers_with_nothing_remaining_pause_admission() -> None:
    limiter = RateLimiter()
    limiter.observe_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
    t0 = time.monotonic()
    (await limiter.acquire()).finish()
    assert time.monotonic() - t0 >= 0.19
    limiter.observe_headers({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "10s"})
    t1 = time.monotonic()
    (await limiter.acquire()).finish()
    assert time.monotonic() - t1 < 5  # nothing to wait for: remaining was not zero
