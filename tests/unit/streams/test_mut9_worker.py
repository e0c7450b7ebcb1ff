"""`serve` (streams/kafka/worker.py): the worker's start-up and its shutdown order, without a broker.

The module docstring states the order: stop taking records -> finish the records in hand -> store the audit
rows already consumed -> commit -> stop the faust app. Start-up creates the workflow's topics first, then
the extras (drift topic, metrics endpoint), the audit sink, and the app (as a worker: faust runs
transactions only there). The exit code is 0 after a requested stop, 1 after a crash or a failed store.
The runtime here is a stand-in recording the calls `serve` makes on it; the broker seam (`ensure_topics`)
is replaced with a recorder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka import worker
from dana_workflows.streams.kafka.worker import QUIET_LOGGERS, quiet_logs, serve

pytestmark = pytest.mark.unit


class Part:
    """A start/stop-able piece of the runtime; ``fail_on``: the method that raises."""

    def __init__(self, name: str, calls: list[str], fail_on: str | None = None) -> None:
        self.name, self.calls, self.fail_on = name, calls, fail_on

    async def _call(self, what: str) -> None:
        self.calls.append(f"{self.name}.{what}")
        if self.fail_on == what:
            raise RuntimeError(f"{self.name} {what} failed")

    async def start(self) -> None:
        await self._call("start")

    async def stop(self) -> None:
        await self._call("stop")

    async def close(self) -> None:
        await self._call("close")


class App(Part):
    def __init__(self, calls: list[str], fail_on: str | None = None) -> None:
        super().__init__("app", calls, fail_on)
        self.in_worker = False
        self.in_worker_at_start: bool | None = None
        self.should_stop = False
        self.crash_reason: BaseException | None = None

    async def start(self) -> None:
        self.in_worker_at_start = self.in_worker
        await super().start()


class Runtime:
    def __init__(self, *, audit: bool = True, fail: dict[str, str] | None = None) -> None:
        fail = fail or {}
        self.calls: list[str] = []
        self.options = SimpleNamespace(
            bootstrap="broker:9092", partitions=3, replication=2, security="the-security"
        )
        self.topology = SimpleNamespace(
            topics={
                "in": SimpleNamespace(topic="dwf.claims.in"),
                "out": SimpleNamespace(topic="dwf.claims.out"),
            },
            audit_topic="dwf.audit",
            resume_topic="dwf.claims.resume",
        )
        self.extras = Part("extras", self.calls, fail.get("extras"))
        self.audit = Part("audit", self.calls, fail.get("audit")) if audit else None
        self.app = App(self.calls, fail.get("app"))
        self.broker_view = Part("broker_view", self.calls, fail.get("broker_view"))
        self.crashed: BaseException | None = None
        self.in_worker_at_prepare: bool | None = None

    async def drain(self) -> None:
        self.calls.append("drain")

    def prepare_consumer(self) -> None:
        self.calls.append("prepare_consumer")
        self.in_worker_at_prepare = self.app.in_worker


@pytest.fixture
def topics(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    made: list[tuple[Any, ...]] = []

    async def ensure_topics(
        bootstrap: str, names: list[str], partitions: int, replication: int, *, security: Any
    ) -> None:
        made.append((bootstrap, list(names), partitions, replication, security))

    monkeypatch.setattr(worker, "ensure_topics", ensure_topics)
    return made


def run(runtime: Runtime, stop: asyncio.Event | None = None, **kw: Any) -> int:
    async def main() -> int:
        event = stop or asyncio.Event()
        if stop is None:
            event.set()
        return await serve(runtime, event, **kw)  # type: ignore[arg-type]

    return asyncio.run(main())


START = ["extras.start", "audit.start", "prepare_consumer", "app.start"]
STOP = ["app.stop", "audit.close", "extras.stop", "broker_view.close"]


def test_a_requested_stop_starts_everything_in_order_then_drains_and_exits_0(
    topics: list[tuple[Any, ...]],
) -> None:
    rt = Runtime()
    assert run(rt) == 0
    assert topics == [
        (
            "broker:9092",
            ["dwf.claims.in", "dwf.claims.out", "dwf.audit", "dwf.claims.resume"],
            3,
            2,
            "the-security",
        )
    ]
    assert rt.calls == [*START, "drain", *STOP]
    assert rt.app.in_worker_at_start is True
    # faust's consumer is built in prepare_consumer and reads in_worker then (exactly-once)
    assert rt.in_worker_at_prepare is True


def test_on_ready_is_called_with_the_runtime_after_the_app_started(topics: list[tuple[Any, ...]]) -> None:
    rt = Runtime()
    seen: list[Any] = []

    def ready(r: Any) -> None:
        seen.append(r)
        r.calls.append("ready")

    assert run(rt, on_ready=ready) == 0
    assert seen == [rt]
    assert rt.calls[: len(START) + 1] == [*START, "ready"]


def test_it_serves_until_stop_is_set(topics: list[tuple[Any, ...]]) -> None:
    """Started with stop not set, the worker keeps running; setting stop (SIGTERM) ends it cleanly."""
    rt = Runtime()

    async def main() -> int:
        stop = asyncio.Event()
        running = asyncio.Event()
        task = asyncio.create_task(serve(rt, stop, on_ready=lambda _: running.set()))  # type: ignore[arg-type]
        await asyncio.wait_for(running.wait(), 10)
        await asyncio.sleep(0)  # the serving loop is waiting now
        assert not task.done()
        assert "drain" not in rt.calls
        stop.set()
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(main()) == 0
    assert rt.calls == [*START, "drain", *STOP]


def test_a_crash_while_serving_exits_1_without_draining(
    topics: list[tuple[Any, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    rt = Runtime()
    boom = RuntimeError("agent died")

    async def main() -> int:
        stop = asyncio.Event()
        running = asyncio.Event()
        task = asyncio.create_task(serve(rt, stop, on_ready=lambda _: running.set()))  # type: ignore[arg-type]
        await asyncio.wait_for(running.wait(), 10)
        rt.crashed = boom
        return await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert asyncio.run(main()) == 1
    assert "drain" not in rt.calls
    assert rt.calls == [*START, *STOP]  # what was consumed is still stored, the rest redelivered
    assert "worker stopped on an error: RuntimeError('agent died')" in caplog.messages


def test_a_crash_before_serving_exits_1(topics: list[tuple[Any, ...]]) -> None:
    rt = Runtime()
    rt.crashed = RuntimeError("crashed at start")
    stop = asyncio.Event()  # never set: the crash alone ends the worker
    assert run(rt, stop) == 1
    assert "drain" not in rt.calls


def test_the_app_stopping_on_its_own_is_an_error(
    topics: list[tuple[Any, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    rt = Runtime()
    rt.app.should_stop = True
    rt.app.crash_reason = RuntimeError("consumer fenced")
    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert run(rt, asyncio.Event()) == 1
    assert "drain" not in rt.calls
    assert "worker stopped on an error: RuntimeError('consumer fenced')" in caplog.messages


def test_the_app_stopping_after_a_requested_stop_is_no_error(topics: list[tuple[Any, ...]]) -> None:
    rt = Runtime()
    rt.app.should_stop = True
    assert run(rt) == 0
    assert "drain" in rt.calls


def test_audit_rows_not_stored_at_close_fail_the_exit_code(
    topics: list[tuple[Any, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    """Not stored = not committed (Kafka redelivers them): said in the log, exit code 1, shutdown goes on."""
    rt = Runtime(fail={"audit": "close"})
    with caplog.at_level(logging.ERROR, logger=worker.__name__):
        assert run(rt) == 1
    assert "audit close failed" in caplog.messages  # the store's own error, as the line
    assert rt.calls == [*START, "drain", *STOP]


def test_failures_stopping_the_app_or_the_extras_do_not_stop_the_shutdown(
    topics: list[tuple[Any, ...]],
) -> None:
    rt = Runtime(fail={"app": "stop", "extras": "stop"})
    assert run(rt) == 0
    assert rt.calls == [*START, "drain", *STOP]


def test_without_an_audit_store_there_is_no_audit_sink_to_start_or_close(
    topics: list[tuple[Any, ...]],
) -> None:
    rt = Runtime(audit=False)
    assert run(rt) == 0
    assert rt.calls == [
        "extras.start",
        "prepare_consumer",
        "app.start",
        "drain",
        "app.stop",
        "extras.stop",
        "broker_view.close",
    ]


@pytest.fixture
def log_levels() -> Iterator[None]:
    """quiet_logs sets process-wide logger levels: put them back for the tests that follow."""
    names = [*QUIET_LOGGERS, "faust.transport.consumer", ""]
    before = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("log_levels")
def test_quiet_logs_keeps_the_clients_at_warning_and_faust_consumer_at_error() -> None:
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers.clear()  # basicConfig configures a root logger without handlers only (pytest adds its own)
    try:
        quiet_logs(logging.DEBUG)
        assert root.level == logging.DEBUG  # the worker's own logs at the level asked
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        root.handlers.extend(handlers)
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).level == logging.WARNING, name
    quiet_logs(logging.ERROR)
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).level == logging.ERROR, name
    assert logging.getLogger("faust.transport.consumer").level == logging.ERROR
    assert {"faust", "mode", "aiokafka", "kafka"} <= set(QUIET_LOGGERS)


def test_run_worker_stops_cleanly_on_sigterm(
    topics: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`dana-wf worker` runs until SIGTERM, then shuts down in order and exits 0; ready is logged once."""
    made: list[tuple[Any, ...]] = []

    def runtime(*args: Any) -> Runtime:
        made.append(args)
        rt = Runtime()
        rt.app.conf = SimpleNamespace(id="claims-app")  # type: ignore[attr-defined]
        rt.stats = {"a": 1, "b": 2, "c": 3}  # type: ignore[attr-defined]
        rt.app.start = terminate_after(rt.app.start)  # type: ignore[method-assign]
        return rt

    def terminate_after(start: Any) -> Any:
        async def started() -> None:
            await start()
            asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

        return started

    monkeypatch.setattr(worker, "KafkaRuntime", runtime)
    options = SimpleNamespace(guarantee="exactly_once")
    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        code = asyncio.run(worker.run_worker("pipeline", "topology", options, "store"))  # type: ignore[arg-type]
    assert code == 0
    assert made == [("pipeline", "topology", options, "store")]
    assert "worker ready: group claims-app, guarantee exactly_once, 3 agents" in caplog.messages
