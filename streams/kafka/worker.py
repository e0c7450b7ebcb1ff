"""`dana-wf worker`: run a workflow's faust app until SIGTERM/SIGINT, then shut down without loss.

Shutdown order (why it matters): stop taking records -> finish the records in hand -> store the audit
rows already consumed -> commit (at-least-once: after a producer flush; exactly-once: the open
transactions) -> stop the faust app (consumer leaves the group, producers close).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.streams.gc_tuning import settle_after_startup
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime, all_topics
from dana_workflows.streams.kafka.log_repeats import RepeatFilter
from dana_workflows.streams.kafka.start_failure import failure_line, fatal_error
from dana_workflows.streams.topology import Topology

log = logging.getLogger(__name__)

QUIET_LOGGERS = ("faust", "mode", "aiokafka", "kafka")
STOP_APP_S = 60.0  # faust's own stop waits up to this for its consumer thread; a stuck one is not waited on


def quiet_logs(level: int = logging.WARNING) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # a broker down: one line a kind per window, not thousands
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # faust's "consumer has not committed"/"not acked" warnings are about its own ack bookkeeping,
    # which this runtime does not use (streams/kafka/commit.py)
    logging.getLogger("faust.transport.consumer").setLevel(logging.ERROR)
    # clickhouse-driver's "Failed to connect" warning carries a 13-line traceback at every retry while the
    # audit server is down; the batching sink's retry line already names the store, the error and the wait
    logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)


async def serve(
    runtime: KafkaRuntime,
    stop: asyncio.Event,
    on_ready: Callable[[KafkaRuntime], None] | None = None,
    *,
    settle_gc: bool = False,
) -> int:
    """Run until ``stop`` is set or the app crashes; return the exit code. ``settle_gc``: this process
    is the worker (``run_worker``), so its collector is settled for good after start-up (gc_tuning.py);
    a caller serving inside a process of its own (a test) keeps its collector as it is."""
    o = runtime.options
    await ensure_topics(
        o.bootstrap, all_topics(runtime.topology), o.partitions, o.replication, security=o.security
    )
    await runtime.extras.start()  # drift values topic, metrics endpoint (streams/kafka/extras.py)
    if runtime.audit is not None:
        await runtime.audit.start()
    app = runtime.app
    app.in_worker = True  # faust only runs transactions (exactly-once) inside a worker
    runtime.prepare_consumer()  # after in_worker: faust's consumer, built here, reads it once
    started, failure = await _start(runtime, stop)
    if started:
        if settle_gc:
            settle_after_startup()  # what start-up built is out of the collector's sight (gc_tuning.py)
        if on_ready is not None:
            on_ready(runtime)
    while started and not stop.is_set() and (failure := fatal_error(runtime)) is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    code = 0
    if failure is not None:
        code = 1
        log.error("%s", failure_line(failure, runtime, starting=not started))
    elif started:
        await runtime.drain()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(app.stop(), STOP_APP_S)
    if runtime.audit is not None:
        try:
            await runtime.audit.close()
        except Exception as exc:  # not stored = not committed: Kafka redelivers them
            log.error("%s", exc)
            code = code or 1
    with contextlib.suppress(Exception):
        await runtime.extras.stop()  # metrics endpoint, LLM client
    await runtime.broker_view.close()
    return code


async def _start(runtime: KafkaRuntime, stop: asyncio.Event) -> tuple[bool, BaseException | None]:
    """Start the faust app: (started, the fatal error found). A refused group join leaves ``app.start()``
    waiting for ever (start_failure.py), so it is not awaited alone: a fatal error found while it starts,
    or SIGTERM, gives up on it."""
    start = asyncio.ensure_future(runtime.app.start())
    while True:
        await asyncio.wait([start], timeout=0.5)
        if start.done():
            failure = None if start.cancelled() else start.exception()
            return failure is None, failure  # a crash on the way is seen by the serving loop
        failure = fatal_error(runtime)
        if failure is not None or stop.is_set():
            start.cancel()
            with contextlib.suppress(BaseException):
                await start
            return False, failure


async def run_worker(
    pipeline: Pipeline, topology: Topology, options: KafkaOptions, audit_store: AuditStore | None
) -> int:
    runtime = KafkaRuntime(pipeline, topology, options, audit_store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await serve(
        runtime,
        stop,
        settle_gc=True,
        on_ready=lambda rt: log.warning(
            "worker ready: group %s, guarantee %s, %d agents",
            rt.app.conf.id,
            options.guarantee,
            len(rt.stats),
        ),
    )
