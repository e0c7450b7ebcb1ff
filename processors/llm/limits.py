"""Client-side rate limits: requests and tokens per window, and a cap on calls in flight.

Why a sliding-window log and not a token bucket: a bucket that starts full lets a whole minute's
requests out at once and then refills, so the first 60 s can hold twice the limit. Here a call holds
its slot from admission until ``window_s`` after it *finished*; since the provider saw the call before
it finished, no window of ``window_s`` on the provider's clock can ever hold more than the limit.
On top, admissions are spaced ``window_s / rpm`` apart (``smooth``), because providers enforce a
minute's quota over shorter periods too.

Tokens are reserved as (prompt estimate + max_tokens) and reconciled to the reply's usage; the
estimate is chars/4 (no tokenizer download at run time).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


class LimitError(ValueError):
    """A call that can never be admitted under the configured limits."""


def estimate_tokens(*texts: str) -> int:
    """A tokenizer-free estimate (about 4 characters a token for English), plus a little per message."""
    return sum(math.ceil(len(t) / 4) + 4 for t in texts)


def parse_duration(value: str | None) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s") or plain seconds, in seconds."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(slots=True)
class _Slot:
    t: float  # admission time, moved to the completion time when the call ends
    tokens: int
    done: bool = False


class Reservation:
    """One admitted call. ``finish`` must be called once the call has ended (idempotent)."""

    __slots__ = ("_finished", "_limiter", "_slot")

    def __init__(self, limiter: RateLimiter, slot: _Slot) -> None:
        self._limiter = limiter
        self._slot = slot
        self._finished = False

    def finish(self, used_tokens: int | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        self._limiter._finish(self._slot, used_tokens)


class RateLimiter:
    """RPM, TPM and concurrency limits shared by every call that goes through this object.

    ``window_s`` is 60 for real providers; tests and benchmarks scale it down.
    """

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        concurrency: int | None = None,
        *,
        window_s: float = 60.0,
        smooth: bool = True,
        clock: Callable[[], float] = time.monotonic,
        name: str = "llm",
    ) -> None:
        for label, v in (("rpm", rpm), ("tpm", tpm), ("concurrency", concurrency)):
            if v is not None and v <= 0:
                raise LimitError(f"{name}: limit {label} must be a positive number, got {v}")
        if window_s <= 0:
            raise LimitError(f"{name}: window_s must be positive, got {window_s}")
        self.name = name
        self.rpm = rpm
        self.tpm = tpm
        self.concurrency = concurrency
        self.window_s = window_s
        self._interval = window_s / rpm if (rpm and smooth) else 0.0
        self._clock = clock
        self._slots: deque[_Slot] = deque()
        self._tokens = 0
        self._next_at = -math.inf  # when the smoothing schedule lets the next call start
        self._paused_until = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bind()
        self.admitted = 0
        self.waited_s = 0.0

    def _bind(self) -> None:
        """Fresh asyncio primitives: they belong to one event loop, and a compiled step may outlive it
        (e.g. two ``asyncio.run`` calls over the same chain)."""
        self._sem = asyncio.Semaphore(self.concurrency) if self.concurrency else None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    # -- admission ---------------------------------------------------------------------------
    async def acquire(self, tokens: int = 0) -> Reservation:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._bind()
        if self.tpm is not None and tokens > self.tpm:
            raise LimitError(
                f"{self.name}: one call reserves {tokens} tokens (prompt estimate + max_tokens) but the "
                f"limit is {self.tpm} tokens per window; lower max_tokens or raise tpm"
            )
        if self._sem is not None:
            await self._sem.acquire()
        try:
            async with self._lock:  # FIFO: the oldest waiter is admitted first
                start = self._clock()
                while True:
                    now = self._clock()
                    wait = self._wait(now, tokens)
                    if wait <= 0:
                        break
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._changed.wait(), timeout=None if math.isinf(wait) else wait
                        )
                slot = _Slot(now, tokens)
                self._slots.append(slot)
                self._tokens += tokens
                # schedule from the planned time, not the (late) wake-up, so lateness does not accumulate
                base = self._next_at if now - self._next_at < self._interval else now
                self._next_at = base + self._interval
                self.admitted += 1
                self.waited_s += now - start
        except BaseException:
            if self._sem is not None:
                self._sem.release()
            raise
        return Reservation(self, slot)

    def _wait(self, now: float, tokens: int) -> float:
        """Seconds until a call of ``tokens`` may start; math.inf means 'until some call finishes'."""
        horizon = now - self.window_s
        slots = self._slots
        while slots and slots[0].done and slots[0].t <= horizon:
            self._tokens -= slots.popleft().tokens
        wait = max(self._paused_until - now, self._next_at - now)
        if self.rpm is not None and len(slots) >= self.rpm:
            wait = max(wait, self._expiry(slots[0], now))
        if self.tpm is not None and self._tokens + tokens > self.tpm:
            need = self._tokens + tokens - self.tpm
            freed = 0
            until = math.inf
            for s in slots:
                if not s.done:
                    break
                freed += s.tokens
                if freed >= need:
                    until = s.t + self.window_s - now
                    break
            wait = max(wait, until)
        return wait

    def _expiry(self, slot: _Slot, now: float) -> float:
        return slot.t + self.window_s - now if slot.done else math.inf

    def _finish(self, slot: _Slot, used_tokens: int | None) -> None:
        slot.t = max(slot.t, self._clock())
        slot.done = True
        if used_tokens is not None:
            self._tokens += used_tokens - slot.tokens
            slot.tokens = used_tokens
        if self._sem is not None:
            self._sem.release()
        self._changed.set()

    # -- feedback from the provider ----------------------------------------------------------
    def pause_for(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a Retry-After applies to every caller, not just one)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Honour x-ratelimit-remaining-* = 0 by pausing until the matching x-ratelimit-reset-*."""
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            if remaining is None:
                continue
            try:
                left = int(float(remaining))
            except ValueError:
                continue
            if left <= 0:
                reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
                if reset:
                    self.pause_for(reset)

    @property
    def in_window(self) -> int:
        return len(self._slots)
