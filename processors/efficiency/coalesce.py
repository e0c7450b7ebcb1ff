"""Coalescing: identical requests in flight at the same time are sent once, and all callers share the answer.

Identical means the same cache key (model chain, rendered prompts, parameters, output schema), so a
shared answer is exactly what each caller would have got. Per worker and per event loop: a future
belongs to the loop that made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self) -> None:
        self._inflight: dict[tuple[int, str], asyncio.Future[T]] = {}
        self.coalesced = 0

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """(the answer, whether it was shared from a call already in flight)."""
        slot = (id(asyncio.get_running_loop()), key)
        pending = self._inflight.get(slot)
        if pending is not None:
            self.coalesced += 1
            return await asyncio.shield(pending), True
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        try:
            result = await call()
        except asyncio.CancelledError:
            future.cancel()  # (set_exception refuses a CancelledError) the sharers are cancelled too
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a future nobody else awaited logs nothing
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            del self._inflight[slot]

    @property
    def in_flight(self) -> int:
        return len(self._inflight)
