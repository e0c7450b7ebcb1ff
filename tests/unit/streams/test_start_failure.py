"""A worker whose start fails, or which SIGTERM stops while it starts, ends (NEWCOMER2 W3): faust's
``app.start()`` never returns when the broker refuses the group join, and aiokafka keeps the refusal
for a fetch that never comes. Here a fake app whose start never returns, and the error where aiokafka
keeps it (the group coordinator's ``_pending_exception``)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import InvalidSessionTimeoutError
from faust.exceptions import ImproperlyConfigured

from dana_workflows.streams.kafka import worker
from dana_workflows.streams.kafka.start_failure import failure_line, pending_group_error
from dana_workflows.streams.kafka.worker import serve

pytestmark = pytest.mark.unit

BOUND_S = 30.0  # generous: the outcome asserted is that serve returned, not how fast


class StuckApp:
    """faust's app as a refused join leaves it: start() waits for ever; the refusal, once set, is where
    aiokafka's coordinator keeps it."""

    def __init__(self, start_error: BaseException | None = None, hang: bool = True) -> None:
        self.coordinator = SimpleNamespace(_pending_exception=None)
        self.consumer = SimpleNamespace(
            _thread=SimpleNamespace(_consumer=SimpleNamespace(_coordinator=self.coordinator))
        )
        self.conf = SimpleNamespace(id="p-claims")
        self.in_worker = False
        self.should_stop = False
        self.crash_reason: BaseException | None = None
        self.start_error = start_error
        self.hang = hang
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.started = True
        if self.hang:
            await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True


class Part:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass


class Runtime:
    def __init__(self, app: StuckApp) -> None:
        self.app = app
        self.options = SimpleNamespace(
            bootstrap="b:9092", partitions=1, replication=1, security=None, session_timeout_s=3.0
        )
        self.topology = SimpleNamespace(topics={}, audit_topic="p.audit", resume_topic="p.claims.resume")
        self.extras = Part()
        self.audit = None
        self.broker_view = Part()
        self.crashed: BaseException | None = None
        self.drained = False

    def prepare_consumer(self) -> None:
        pass

    async def drain(self) -> None:
        self.drained = True


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    async def ensure_topics(*args: Any, **kwargs: Any) -> None:
        pass

    monkeypatch.setattr(worker, "ensure_topics", ensure_topics)


def serve_until(rt: Runtime, stop: asyncio.Event, then: Any) -> int:
    """serve(rt, stop) while ``then`` (a coroutine function) acts on it; serve's exit code."""

    async def main() -> int:
        task = asyncio.create_task(serve(rt, stop))  # type: ignore[arg-type]
        await then()
        done, _ = await asyncio.wait([task], timeout=BOUND_S)
        assert task in done, "serve did not return"
        return task.result()

    return asyncio.run(main())


def test_a_refused_group_join_while_starting_ends_the_worker_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = StuckApp()
    rt = Runtime(app)

    async def refuse() -> None:
        await asyncio.sleep(0.1)
        assert app.started  # start-up is under way, and will never finish
        app.coordinator._pending_exception = InvalidSessionTimeoutError()

    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert serve_until(rt, asyncio.Event(), refuse) == 1
    assert not rt.drained and app.stopped
    assert caplog.messages == [
        "worker cannot start: [Error 26] InvalidSessionTimeoutError (fix: --session-timeout 3 s is outside "
        "the broker's group.min.session.timeout.ms .. group.max.session.timeout.ms (Kafka's defaults: 6 s "
        ".. 30 min))"
    ]


def test_sigterm_while_starting_ends_the_worker_without_draining(caplog: pytest.LogCaptureFixture) -> None:
    app = StuckApp()
    rt = Runtime(app)
    stop = asyncio.Event()

    async def sigterm() -> None:
        await asyncio.sleep(0.1)
        stop.set()

    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert serve_until(rt, stop, sigterm) == 0
    assert not rt.drained and app.stopped
    assert caplog.messages == []


def test_a_start_that_raises_ends_the_worker_with_the_setting_to_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = StuckApp(ImproperlyConfigured("Setting broker_session_timeout=3600.0 cannot be greater than 90.0"))
    rt = Runtime(app)

    async def nothing() -> None:
        pass

    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert serve_until(rt, asyncio.Event(), nothing) == 1
    assert caplog.messages == [
        "worker cannot start: ImproperlyConfigured: Setting broker_session_timeout=3600.0 cannot be greater "
        "than 90.0 (fix: --session-timeout 3 s must be at most the request timeout (90 s))"
    ]


def test_a_group_error_after_start_stops_a_serving_worker(caplog: pytest.LogCaptureFixture) -> None:
    app = StuckApp(hang=False)  # started, serving; then a rejoin is refused
    rt = Runtime(app)

    async def refuse() -> None:
        await asyncio.sleep(0.1)
        app.coordinator._pending_exception = InvalidSessionTimeoutError()

    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert serve_until(rt, asyncio.Event(), refuse) == 1
    assert not rt.drained and app.stopped
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith(
        "worker stopped on an error: [Error 26] InvalidSessionTimeoutError (fix:"
    )


def test_an_error_with_no_known_fix_is_named_by_its_repr() -> None:
    rt = Runtime(StuckApp())
    assert failure_line(RuntimeError("x"), rt, starting=True) == "worker cannot start: RuntimeError('x')"


def test_an_app_without_a_consumer_yet_has_no_pending_error() -> None:
    assert pending_group_error(SimpleNamespace()) is None
    app = StuckApp()
    app.coordinator._pending_exception = "not an error"  # type: ignore[assignment]
    assert pending_group_error(app) is None
