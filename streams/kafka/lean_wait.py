"""faust's per-record delivery, with three of its four tasks per record left out.

faust's fetcher hands each fetched record to the conductor inside ``wait_first(callback(message),
suspend_flow.wait())`` (``Consumer._drain_messages``), so that a rebalance (``suspend_flow`` set), a stop
or a crash can interrupt a delivery that waits for room in an agent's channel. mode's ``wait_first`` makes
a task of every argument and of the service's ``stopped`` and ``crashed`` events (four tasks a record),
waits for the first, and cancels the other three: each created, stepped and cancelled on the event loop,
~11% of a worker's CPU in the profile of session 10 (docs/performance.md).

``lean_wait_first`` keeps that behaviour and its result: the callback still runs as a task (so it can be
cancelled when an event wins), but an argument that is a mode ``Event.wait()`` coroutine, and the
``stopped`` and ``crashed`` events, are waited on as plain futures registered with the event, the way
``Event.wait`` itself registers one, and unregistered afterwards. Installed on the worker's consumer
only (``install``); faust's other services keep mode's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from mode.services import WaitResults
from mode.utils.locks import Event

_EVENT_WAIT = Event.wait.__code__


def _event_of(coro: Any) -> Event | None:
    """The event of an unstarted ``Event.wait()`` coroutine (faust passes ``suspend_flow.wait()``)."""
    frame = getattr(coro, "cr_frame", None)  # a native coroutine not started yet has its arguments there
    if getattr(coro, "cr_code", None) is _EVENT_WAIT and frame is not None:
        event = frame.f_locals.get("self")
        if isinstance(event, Event):
            return event
    return None


def _waiter(loop: asyncio.AbstractEventLoop, event: Event) -> asyncio.Future[bool]:
    fut: asyncio.Future[bool] = loop.create_future()
    if event.is_set():
        fut.set_result(True)
    else:
        event._waiters.append(fut)  # what Event.wait() registers; set() resolves it
    return fut


async def lean_wait_first(service: Any, *coros: Any, timeout: float | None = None) -> WaitResults:
    """mode's ``Service.wait_first`` (same winners, results, ``stopped`` flag and exceptions), with
    events waited on as futures instead of tasks."""
    loop = asyncio.get_running_loop()
    stopped, crashed = service._stopped, service._crashed
    futures: dict[Any, asyncio.Future[Any]] = {}
    registered: list[tuple[Event, asyncio.Future[bool]]] = []
    for coro in coros:
        event = coro if isinstance(coro, Event) else _event_of(coro)
        if event is not None:
            if event is not coro:
                coro.close()  # never started: nothing of it ran
            futures[coro] = _waiter(loop, event)
            registered.append((event, futures[coro]))
        else:
            futures[coro] = asyncio.ensure_future(coro if isinstance(coro, Awaitable) else coro.wait())
    for event in (stopped, crashed):
        futures[event] = _waiter(loop, event)
        registered.append((event, futures[event]))
    try:
        done, _pending = await asyncio.wait(
            futures.values(), return_when=asyncio.FIRST_COMPLETED, timeout=timeout
        )
        for f in done:
            if f.done() and f.exception() is not None:
                f.result()  # propagate exceptions
        winners: list[Any] = []
        results: list[Any] = []
        for coro, fut in futures.items():
            if fut.done():
                winners.append(coro)
                results.append(fut.result())
            elif fut.cancelled():
                raise asyncio.CancelledError()
        if winners and not stopped.is_set() and not crashed.is_set():
            return WaitResults(winners, results, False)
        return WaitResults([], [], True)
    finally:
        for fut in futures.values():
            if not fut.done():
                fut.cancel()
        for event, fut in registered:
            with contextlib.suppress(ValueError):
                event._waiters.remove(fut)


def install(consumer: Any) -> None:
    """Use ``lean_wait_first`` for this faust consumer's deliveries (an instance attribute: the class
    and faust's other services keep mode's)."""

    async def wait_first(*coros: Any, timeout: float | None = None) -> WaitResults:
        return await lean_wait_first(consumer, *coros, timeout=timeout)

    consumer.wait_first = wait_first
