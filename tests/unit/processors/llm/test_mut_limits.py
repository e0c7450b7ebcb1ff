"""Rate limiter edges (processors/llm/limits.py), on virtual time or a fake clock, never the wall clock.

Expected values from the module's contract: a call holds its slot until ``window_s`` after it finished;
admissions are spaced ``window_s / rpm`` apart when smoothing; tokens are reserved as given and
reconciled to the usage reported at finish; a call of exactly ``tpm`` tokens fits, one more never does;
a pause never shortens an earlier, longer one; the estimate is ceil(chars / 4) + 4 per message.
"""

from __future__ import annotations

import asyncio

import pytest

from dana_workflows.processors.llm.limits import LimitError, RateLimiter, estimate_tokens, parse_duration
from tests.fixtures.virtual_time import run_virtual

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_estimate_rounds_characters_up_and_adds_four_a_message() -> None:
    assert estimate_tokens() == 0
    assert estimate_tokens("") == 4
    assert estimate_tokens("abcde") == 2 + 4
    assert estimate_tokens("abcd") == 1 + 4
    assert estimate_tokens("abcd", "abcdefgh") == 5 + 6


def test_durations_in_every_unit_and_plain_seconds_never_negative() -> None:
    assert parse_duration("1m") == 60.0
    assert parse_duration("1ms") == pytest.approx(0.001)
    assert parse_duration("2h") == 7200.0
    assert parse_duration(" 3 ") == 3.0
    assert parse_duration("-5") == 0.0
    assert parse_duration("") is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tpm": 0}, "step: limit tpm must be a positive number, got 0"),
        ({"concurrency": -1}, "step: limit concurrency must be a positive number, got -1"),
        ({"rpm": -2}, "step: limit rpm must be a positive number, got -2"),
        ({"window_s": 0}, "step: window_s must be positive, got 0"),
    ],
)
def test_limits_must_be_positive(kw: dict[str, float], message: str) -> None:
    with pytest.raises(LimitError) as e:
        RateLimiter(name="step", **kw)  # type: ignore[arg-type]
    assert str(e.value) == message


def test_positive_limits_and_none_are_accepted() -> None:
    r = RateLimiter(rpm=1, tpm=1, concurrency=1, window_s=0.001)
    assert (r.rpm, r.tpm, r.concurrency, r.in_window) == (1, 1, 1, 0)
    assert RateLimiter().rpm is None


def test_a_call_of_exactly_tpm_tokens_is_admitted_at_once() -> None:
    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(tpm=100, clock=loop.time)
        slot = await limiter.acquire(100)
        at = loop.time()
        slot.finish(100)
        return at, limiter.in_window

    assert run_virtual(main()) == (0.0, 1)


def test_smoothing_spaces_admissions_window_over_rpm() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(rpm=4, window_s=40.0, clock=loop.time)
        times = []
        for _ in range(4):
            (await limiter.acquire()).finish()
            times.append(loop.time())
        return times

    assert run_virtual(main()) == pytest.approx([0.0, 10.0, 20.0, 30.0])


def test_without_smoothing_calls_go_at_once_until_the_window_is_full() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(rpm=2, window_s=40.0, smooth=False, clock=loop.time)
        times = []
        for _ in range(3):
            (await limiter.acquire()).finish()
            times.append(loop.time())
        return times

    assert run_virtual(main()) == pytest.approx([0.0, 0.0, 40.0])


def test_a_call_still_running_holds_its_slot_until_it_finishes() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(rpm=1, window_s=10.0, smooth=False, clock=loop.time)
        first = await limiter.acquire()

        async def finish_later() -> None:
            await asyncio.sleep(25.0)
            first.finish()

        task = asyncio.create_task(finish_later())
        (await limiter.acquire()).finish()
        await task
        return [loop.time()]

    assert run_virtual(main()) == [pytest.approx(35.0)]  # finished at 25, plus the 10 s window


def test_usage_reported_at_finish_replaces_the_reservation() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(tpm=1000, window_s=30.0, clock=loop.time)
        a = await limiter.acquire(900)
        a.finish(100)  # the call used 100: 900 left in the window
        (await limiter.acquire(900)).finish(900)
        first = loop.time()
        (await limiter.acquire(1)).finish(1)  # 100 + 900 + 1 > 1000: waits until the first ages out
        return [first, loop.time()]

    assert run_virtual(main()) == pytest.approx([0.0, 30.0])


def test_finish_without_usage_keeps_the_reservation_and_finish_is_idempotent() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(tpm=1000, concurrency=1, window_s=30.0, clock=loop.time)
        a = await limiter.acquire(600)
        a.finish()
        a.finish(0)  # a second finish changes nothing (not the tokens, not the semaphore)
        (await limiter.acquire(400)).finish(400)
        first = loop.time()
        (await limiter.acquire(1)).finish(1)
        return [first, loop.time()]

    assert run_virtual(main()) == pytest.approx([0.0, 30.0])


def test_a_longer_pause_is_never_shortened_by_a_later_shorter_one() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(clock=loop.time)
        limiter.pause_for(5.0)
        limiter.pause_for(1.0)
        (await limiter.acquire()).finish()
        return loop.time()

    assert run_virtual(main()) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("headers", "paused"),
    [
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "3s"}, 3.0),
        ({"x-ratelimit-remaining-requests": "0.4", "x-ratelimit-reset-requests": "2s"}, 2.0),
        ({"x-ratelimit-remaining-requests": "-1", "x-ratelimit-reset-requests": "2s"}, 2.0),
        ({"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "2s"}, 0.0),
        ({"x-ratelimit-remaining-requests": "0"}, 0.0),  # nothing says when: no pause
        ({"x-ratelimit-remaining-requests": "none", "x-ratelimit-reset-requests": "2s"}, 0.0),
        (
            {
                "x-ratelimit-remaining-requests": "bad",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "4s",
            },
            4.0,
        ),
        (
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "6s",
            },
            6.0,
        ),
    ],
)
def test_headers_pause_only_when_nothing_remains_and_a_reset_is_given(
    headers: dict[str, str], paused: float
) -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(clock=loop.time)
        limiter.observe_headers(headers)
        (await limiter.acquire()).finish()
        return loop.time()

    assert run_virtual(main()) == pytest.approx(paused)


def test_aged_out_slots_leave_the_window_and_give_back_their_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=10, tpm=100, window_s=10.0, smooth=False, clock=clock)

    async def two() -> None:
        (await limiter.acquire(30)).finish(30)
        (await limiter.acquire(30)).finish(30)

    asyncio.run(two())
    assert limiter.in_window == 2 and limiter.admitted == 2
    assert limiter._wait(9.999, 41) == pytest.approx(0.001)  # 60 + 41 > 100 until the first ages out
    assert limiter._wait(9.999, 40) <= 0
    assert limiter.in_window == 2
    assert limiter._wait(10.0, 100) <= 0  # both finished at 0 and aged out at exactly 10
    assert limiter.in_window == 0


def test_a_caller_cancelled_while_waiting_gives_its_concurrency_slot_back() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(rpm=1, concurrency=1, window_s=10.0, smooth=False, clock=loop.time)
        (await limiter.acquire()).finish()
        waiting = asyncio.create_task(limiter.acquire())  # holds the slot while it waits for the window
        await asyncio.sleep(1.0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        slot = await asyncio.wait_for(limiter.acquire(), timeout=100.0)  # a leaked slot: TimeoutError
        slot.finish()
        return loop.time()

    assert run_virtual(main()) == pytest.approx(10.0)


def test_a_limiter_serves_one_event_loop_after_another() -> None:
    limiter = RateLimiter(concurrency=1)

    async def one() -> int:
        (await limiter.acquire(5)).finish(5)
        return limiter.admitted

    assert asyncio.run(one()) == 1
    assert asyncio.run(one()) == 2  # fresh primitives for the second loop
