"""SIGTERM during a rebalance ends the worker, and no record is lost (docs/kafka-runtime.md, "Stopping
during a rebalance").

Each round starts two workers in one group, gives them records, stops the first with SIGTERM, and stops
the second with SIGTERM just as the first one's leaving starts a rebalance in it (at its next heartbeat):
the second is then inside its revocation handler, whose commit goes through the consumer thread, when
its drain and faust's stop begin. That was the hang of docs/performance.md (session 12): the drain did not
wait for the revocation's commit, faust's stop cancelled it in the consumer thread, the CancelledError
went back into aiokafka's coordinator, the thread ended without setting mode's shutdown event, and faust's
stop waited for it for mode's 60 s (the bench killed the worker first).

The window (a commit under way in the consumer thread) lasts a broker round trip; to be inside it in every
round rather than once in many, the workers' consumer-thread commit is slowed by ``SLOW_COMMIT_S`` (as a
slow broker would) with a ``sitecustomize`` this test writes for the worker processes only. A worker
must exit 0 within ``HANG_GUARD_S`` (a hang guard below mode's 60 s thread-stop timeout that the defect
waited for; a stop takes seconds) and its log must show no consumer-thread traceback. At the end one worker
handles what is left: every produced event reaches an outcome (at-least-once: a record may be handled
twice, never lost), and the committed offsets of the input never pass its end.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    ROOT,
    claims_lines,
    group_offsets,
    read_topic,
    start_worker,
    stop_worker,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

ROUNDS = 3
CHUNK = 600
SLOW_COMMIT_S = 2.0
HANG_GUARD_S = 50.0
# how long after the first worker exited the second gets its SIGTERM: its next heartbeat (1 s) learns of
# the rebalance, and its revocation's commit then takes SLOW_COMMIT_S
STOP_DELAYS_S = (0.6, 1.2, 1.8)
THREAD_TRACEBACK = "Exception in thread"

SLOW_COMMIT = f"""
import asyncio
from faust.transport.drivers import aiokafka as _faust_aiokafka

_commit = _faust_aiokafka.AIOKafkaConsumerThread._commit


async def _slow_commit(self, offsets):
    await asyncio.sleep({SLOW_COMMIT_S})
    return await _commit(self, offsets)


_faust_aiokafka.AIOKafkaConsumerThread._commit = _slow_commit
"""


def running(worker: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: worker.poll() is None


def ready(log: Path) -> bool:
    return log.exists() and "worker ready" in log.read_text(errors="replace")


async def wait_ready(worker: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready(log):
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"{log.name}: not ready"
        await asyncio.sleep(0.2)


async def wait_exit(worker: subprocess.Popen[bytes], log: Path) -> None:
    """The worker ends within the hang guard, with code 0 and no traceback of its consumer thread."""
    deadline = time.monotonic() + HANG_GUARD_S
    while worker.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    text = log.read_text(errors="replace")
    if worker.poll() is None:
        worker.kill()
        worker.wait()
        pytest.fail(f"{log.name}: no exit within {HANG_GUARD_S:.0f} s of SIGTERM:\n{text[-4000:]}")
    assert worker.returncode == 0, text[-3000:]
    assert THREAD_TRACEBACK not in text, text[text.index(THREAD_TRACEBACK) :][:4000]


async def test_sigterm_during_a_rebalance_ends_the_worker_and_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    lines = claims_lines(CHUNK * ROUNDS, seed=41)
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SLOW_COMMIT)
    slow = {"PYTHONPATH": os.pathsep.join([str(inject), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = 0

    def start(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        nonlocal started
        started += 1
        name = f"w{started}"
        extra = ["--log-level", "INFO", "--data-dir", str(tmp_path / f"data-{name}")]
        # commits far apart: records handled since the last one are what the revocation commits
        extra += ["--commit-interval", "8"]
        worker = start_worker(
            tmp_path, kafka_bootstrap, topic_prefix, log_name=f"{name}.log", extra=extra, env=env
        )
        return worker, tmp_path / f"{name}.log"

    produced = 0
    for round_ in range(ROUNDS):
        first, first_log = start(slow)
        second, second_log = start(slow)
        workers = [first, second]
        try:
            await wait_ready(first, first_log)
            await wait_ready(second, second_log)
            await produce_lines(
                pipeline, topology, kafka_bootstrap, lines[produced : produced + CHUNK], partitions=2
            )
            produced += CHUNK
            # the chunk is being handled (records the next commit holds) before the stops begin
            await wait_for_outcomes(kafka_bootstrap, topology, produced - CHUNK // 2, 120, running(second))
            first.send_signal(signal.SIGTERM)
            await wait_exit(first, first_log)
            await asyncio.sleep(STOP_DELAYS_S[round_ % len(STOP_DELAYS_S)])
            second.send_signal(signal.SIGTERM)
            await wait_exit(second, second_log)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()

    last, last_log = start()
    try:
        await wait_ready(last, last_log)
        got = await wait_for_outcomes(kafka_bootstrap, topology, produced, 180, running(last))
    finally:
        code = stop_worker(last)
    assert code == 0, last_log.read_text()[-3000:]

    runs: dict[str, set[str]] = {}
    for decisions in got.values():
        for d in decisions:
            runs.setdefault(json.loads(d)["run_id"], set()).add(d)
    assert len(runs) == produced  # no event lost
    assert all(len(ds) == 1 for ds in runs.values())  # a redelivered event decides the same way

    source = topology.topic(ENTRY)
    ends: dict[int, int] = {}
    for r in await read_topic(kafka_bootstrap, source):
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    committed = {p: o for (t, p), o in (await group_offsets(kafka_bootstrap, group)).items() if t == source}
    assert committed and all(o <= ends[p] for p, o in committed.items()), (committed, ends)
