"""A second Ctrl-C while `dana-wf produce` sends the ingest rows of the lines it sent: asyncio.run raises
KeyboardInterrupt from inside the loop and then cancels every task at once, the Kafka client's sender with
them, so the producer's stop waited for a sender that was gone (40 s on the shared broker, then the client's
KafkaTimeoutError traceback). `run_interruptible` turns each Ctrl-C into one more cancel of the command's
task, the client's own tasks left running until the task is done."""

from __future__ import annotations

import asyncio
import signal

import pytest

from dana_workflows.cli.interrupts import run_interruptible

pytestmark = pytest.mark.unit


async def _produce_interrupted_twice(delivered: list[str]) -> None:
    """The shape of produce_lines on a Ctrl-C, then another while its finally sends the pending rows."""
    outbox: asyncio.Queue[str] = asyncio.Queue()

    async def sender() -> None:  # aiokafka's sender task: delivers what the producer holds
        while True:
            delivered.append(await outbox.get())
            outbox.task_done()

    running = asyncio.create_task(sender())
    try:
        signal.raise_signal(signal.SIGINT)  # the first Ctrl-C
        await asyncio.Event().wait()  # sending lines: the cancel lands here
    finally:
        outbox.put_nowait("audit rows")  # the pending batch, now held by the producer
        signal.raise_signal(signal.SIGINT)  # a second Ctrl-C while they go out
        try:
            await asyncio.Event().wait()  # flush: the second cancel lands here
        finally:
            await outbox.join()  # producer.stop(): the sender delivers what the producer holds
            running.cancel()


def test_a_second_ctrl_c_stops_the_wait_not_the_client_under_it() -> None:
    delivered: list[str] = []
    told: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(_produce_interrupted_twice(delivered), on_interrupt=told.append)
    assert delivered == ["audit rows"]
    assert told == [1, 2]  # each Ctrl-C, counted: the command says what it waits for next, and how to stop
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_an_error_after_a_ctrl_c_is_the_interruption() -> None:
    """The broker down at that moment: the finally's flush fails (KafkaTimeoutError after 40 s); the command
    was interrupted, and says so, not the client's traceback."""

    async def flush_fails() -> None:
        try:
            signal.raise_signal(signal.SIGINT)
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("KafkaTimeoutError")

    with pytest.raises(KeyboardInterrupt):
        run_interruptible(flush_fails())


def test_without_a_ctrl_c_the_result_and_errors_are_the_coroutines() -> None:
    async def ok() -> int:
        await asyncio.sleep(0)
        return 7

    async def broken() -> None:
        raise ValueError("x")

    assert run_interruptible(ok()) == 7
    with pytest.raises(ValueError):
        run_interruptible(broken())


def test_outside_the_main_thread_ctrl_c_is_left_to_python() -> None:
    """No loop signal handler can be set off the main thread: the coroutine still runs, as asyncio.run."""
    import threading

    async def ok() -> int:
        return 3

    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(run_interruptible(ok())))
    worker.start()
    worker.join()
    assert results == [3]
