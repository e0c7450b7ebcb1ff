"""lean_wait_first answers as mode's Service.wait_first does (the same winners, results, stopped flag and
exceptions; a losing callback cancelled), and leaves no waiter behind on the events it waited on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mode import Service
from mode.utils.locks import Event

from dana_workflows.streams.kafka.lean_wait import install, lean_wait_first

pytestmark = pytest.mark.unit


class Svc(Service):
    """A mode service that is never started: its stopped/crashed events are all wait_first reads."""


async def deliver(log: list[str], gate: asyncio.Event | None = None) -> str:
    if gate is not None:
        await gate.wait()
    log.append("delivered")
    return "ok"


async def both(service: Any, coros: Any) -> tuple[Any, Any]:
    """The answers of mode's wait_first and of lean_wait_first to the same situation."""
    theirs = await service.wait_first(*coros[0]())
    ours = await lean_wait_first(service, *coros[1]())
    return theirs, ours


async def test_a_delivery_that_does_not_wait_wins() -> None:
    service, flow = Svc(), Event()
    log: list[str] = []
    res = await lean_wait_first(service, deliver(log), flow.wait())
    assert log == ["delivered"]
    assert res.results == ["ok"] and not res.stopped and len(res.done) == 1
    assert not flow._waiters and not service._stopped._waiters and not service._crashed._waiters


async def test_a_suspended_flow_interrupts_a_blocked_delivery_and_cancels_it() -> None:
    service, flow = Svc(), Event()
    log: list[str] = []
    gate = asyncio.Event()  # never opened: the delivery waits for room forever
    wait = asyncio.ensure_future(lean_wait_first(service, deliver(log, gate), flow.wait()))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not wait.done()
    flow.set()  # a rebalance suspends the flow
    res = await wait
    assert res.results == [True] and not res.stopped
    gate.set()
    await asyncio.sleep(0)
    assert log == []  # the losing delivery was cancelled, it did not go on later
    assert not flow._waiters


async def test_a_stopped_service_answers_stopped_like_mode() -> None:
    service, flow = Svc(), Event()
    service._stopped.set()
    gate = asyncio.Event()
    theirs, ours = await both(
        service,
        (lambda: (deliver([], gate), flow.wait()), lambda: (deliver([], gate), flow.wait())),
    )
    assert theirs.stopped and ours.stopped
    assert (ours.done, ours.results) == (theirs.done, theirs.results) == ([], [])


async def test_an_already_set_event_is_a_winner_like_mode() -> None:
    service, flow = Svc(), Event()
    flow.set()
    gate = asyncio.Event()
    theirs, ours = await both(
        service,
        (lambda: (deliver([], gate), flow.wait()), lambda: (deliver([], gate), flow.wait())),
    )
    assert ours.results == theirs.results == [True]
    assert not ours.stopped and not theirs.stopped
    assert isinstance(ours.done[0], Event) or asyncio.iscoroutine(ours.done[0])


async def test_an_event_passed_as_itself_is_waited_on() -> None:
    service, flow = Svc(), Event()
    asyncio.get_running_loop().call_soon(flow.set)
    res = await lean_wait_first(service, flow, asyncio.sleep(10))
    assert res.done == [flow] and res.results == [True]


async def test_a_failing_delivery_raises_its_error() -> None:
    async def boom() -> None:
        raise RuntimeError("bad record")

    with pytest.raises(RuntimeError, match="bad record"):
        await lean_wait_first(Svc(), boom(), Event().wait())


async def test_install_replaces_wait_first_on_the_instance_only() -> None:
    service, other, flow = Svc(), Svc(), Event()
    install(service)
    log: list[str] = []
    res = await service.wait_first(deliver(log), flow.wait())
    assert res.results == ["ok"] and log == ["delivered"]
    assert "wait_first" not in vars(other)  # the class keeps mode's
