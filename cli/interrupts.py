"""Ctrl-C for a command that runs a coroutine (`dana-wf produce`): each Ctrl-C cancels the command's task
once more, run in the loop, so the task's finally (produce's: send the ingest rows of the lines it sent)
goes on with the Kafka client's own tasks still running.

asyncio.run instead raises KeyboardInterrupt at a second Ctrl-C from wherever the loop is, then cancels
every task at once, the client's sender with them: the producer's stop then waited for a sender that was
gone (40 s on the shared broker, then the client's KafkaTimeoutError traceback)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_interruptible(coro: Coroutine[Any, Any, T], on_interrupt: Callable[[int], None] | None = None) -> T:
    """``coro``'s result; KeyboardInterrupt once it ends after a Ctrl-C, however it ends (a cancel, or an
    error of the finally the cancel ran, such as a flush to a broker that is down): the caller says what
    was done. Without a Ctrl-C, its result or error as asyncio.run gives them. ``on_interrupt(n)`` runs at
    the n-th Ctrl-C: the finally may wait (a broker down: the client's 40 s timeouts), so say for what."""
    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        task = loop.create_task(coro)
        interrupts = 0

        def on_sigint() -> None:
            nonlocal interrupts
            interrupts += 1
            if on_interrupt is not None:
                on_interrupt(interrupts)
            task.cancel()  # the first stops the work; a next one the finally's wait (flush, delivery)

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            handled = True
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no such support
            handled = False  # Ctrl-C stays Python's KeyboardInterrupt
        try:
            return loop.run_until_complete(task)
        except BaseException:
            if interrupts:
                raise KeyboardInterrupt from None
            raise
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)  # puts back the default handler
