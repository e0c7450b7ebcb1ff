"""The rate limiter: no window ever over the limit, no start-up burst, token reservations reconciled."""

from __future__ import annotations

import asyncio

import pytest

from dana_workflows.processors.llm.limits import LimitError, RateLimiter, estimate_tokens, parse_duration
from tests.fixtures.virtual_time import run_virtual

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


def test_no_window_holds_more_than_rpm_under_twice_the_load() -> None:
    n, window = 6, 0.6
    started: list[float] = []

    async def main() -> None:
        clock = asyncio.get_running_loop().time
        limiter = RateLimiter(rpm=n, window_s=window, concurrency=20, clock=clock)

        async def call() -> None:
            slot = await limiter.acquire(10)
            started.append(clock())
            await asyncio.sleep(0.005)
            slot.finish(10)

        await asyncio.gather(*(call() for _ in range(2 * n)))

    run_virtual(main())
    assert len(started) == 2 * n
    assert max_in_window(started, window) == n  # full, never over


def test_no_start_up_burst_admissions_are_spaced() -> None:
    """Smoothing: the first window's calls are spread over it, not all at t=0."""
    n, window = 4, 0.4
    started: list[float] = []

    async def main() -> None:
        clock = asyncio.get_running_loop().time
        limiter = RateLimiter(rpm=n, window_s=window, clock=clock)
        for _ in range(n):
            slot = await limiter.acquire()
            started.append(clock())
            slot.finish()

    run_virtual(main())
    # call i starts i intervals after the first (the schedule, not a burst)
    assert started == pytest.approx([i * window / n for i in range(n)])


def test_unsmoothed_still_holds_the_window() -> None:
    n, window = 5, 0.5
    started: list[float] = []

    async def main() -> None:
        clock = asyncio.get_running_loop().time
        limiter = RateLimiter(rpm=n, window_s=window, smooth=False, clock=clock)
        for _ in range(2 * n):
            slot = await limiter.acquire()
            started.append(clock())
            slot.finish()

    run_virtual(main())
    assert started[:n] == [0.0] * n  # no smoothing: the first n at once
    assert started[n:] == pytest.approx([window] * n)  # the rest when the first calls age out
    assert max_in_window(started, window) == n


def test_tokens_reserved_then_reconciled_from_usage() -> None:
    async def main() -> None:
        limiter = RateLimiter(tpm=1000, window_s=0.5, clock=asyncio.get_running_loop().time)
        a = await limiter.acquire(600)
        a.finish(100)  # the reply used far less than reserved: the window has room again at once
        b = await limiter.acquire(800)
        assert asyncio.get_running_loop().time() == 0.0  # admitted without waiting
        assert limiter._tokens == 900
        b.finish(800)

    run_virtual(main())


def test_tokens_wait_for_the_window() -> None:
    window = 0.3

    async def main() -> float:
        clock = asyncio.get_running_loop().time
        limiter = RateLimiter(tpm=1000, window_s=window, clock=clock)
        a = await limiter.acquire(700)
        a.finish()
        b = await limiter.acquire(700)  # 700 + 700 > 1000: the second waits for the first to age out
        b.finish()
        return clock()

    assert run_virtual(main()) == pytest.approx(window)


def test_the_window_counts_from_when_a_call_finished() -> None:
    """rpm = 1 and a 50 s call: the provider saw the call until it ended, so the next one may start only
    a whole window after that end (110 s), not a window after the admission (60 s)."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(rpm=1, window_s=60, clock=loop.time)
        first = await limiter.acquire()
        await asyncio.sleep(50)  # the call takes 50 s
        first.finish()
        second = await limiter.acquire()
        admitted = [loop.time()]
        await asyncio.sleep(1)
        second.finish()
        return admitted

    assert run_virtual(main()) == [pytest.approx(110.0)]


def test_oversized_call_is_a_clear_error() -> None:
    limiter = RateLimiter(tpm=100, name="claims.risk")
    with pytest.raises(LimitError, match=r"claims\.risk.*lower max_tokens or raise tpm"):
        asyncio.run(limiter.acquire(101))


def test_bad_limits_rejected() -> None:
    with pytest.raises(LimitError, match="rpm must be a positive"):
        RateLimiter(rpm=0)


def test_concurrency_cap() -> None:
    running = 0
    peak = 0

    async def main() -> None:
        limiter = RateLimiter(concurrency=2, clock=asyncio.get_running_loop().time)

        async def call() -> None:
            nonlocal running, peak
            slot = await limiter.acquire()
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            slot.finish()

        await asyncio.gather(*(call() for _ in range(8)))

    run_virtual(main())
    assert peak == 2


def test_headers_with_nothing_remaining_pause_admission() -> None:
    async def main() -> list[float]:
        clock = asyncio.get_running_loop().time
        limiter = RateLimiter(clock=clock)
        limiter.observe_headers(
            {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"}
        )
        (await limiter.acquire()).finish()
        paused_until = clock()
        limiter.observe_headers({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "10s"})
        (await limiter.acquire()).finish()  # nothing to wait for: remaining was not zero
        return [paused_until, clock()]

    assert run_virtual(main()) == pytest.approx([0.2, 0.2])
