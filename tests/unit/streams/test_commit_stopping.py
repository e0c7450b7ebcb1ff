"""A stop (SIGTERM) that meets a rebalance (docs/kafka-runtime.md, "Stopping during a rebalance"):

- a drain's commit, or a revocation's, waits for a commit already in flight: that commit has taken the
  offsets it commits out of the pending set, so "nothing pending" must not be read before it has ended
  (the drain returned at once, and the app's stop then cancelled the commit in the consumer thread);
- while a revocation handler runs, ``revocations_done`` says so, and the drain waits for it before the app
  (and with it the consumer thread the handler commits through) is stopped;
- a revocation's commit that the consumer thread cancels (its stop) ends the handler normally, leaving
  the offsets uncommitted and pending; a cancellation of the handler's own task still propagates.

The committer runs against the stand-ins of kafka_fakes.py; the consumer's commit is replaced where a test
needs it to wait or to be cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka.agent_loop import WorkerState
from dana_workflows.streams.kafka.app import KafkaRuntime
from tests.unit.streams.test_commit_bookkeeping import IN, Rig, turns

pytestmark = pytest.mark.unit


class HeldCommit:
    """The consumer thread's commit, held until ``release`` (a commit in flight), or cancelled there."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.began = asyncio.Event()
        self.gate: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.offsets: list[dict[tuple[str, int], int]] = []
        rig.app.consumer._commit = self._commit  # type: ignore[method-assign]

    async def _commit(self, offsets: dict[Any, int]) -> bool:
        self.offsets.append({(tp.topic, tp.partition): o for tp, o in offsets.items()})
        self.began.set()
        return await self.gate  # the thread's promise: a result, or the CancelledError the thread set

    def release(self) -> None:
        self.gate.set_result(True)

    def cancel_in_thread(self) -> None:
        """What mode's method queue does when the thread stops under the call: the promise gets the
        CancelledError as its exception (the awaiting task itself is not cancelled)."""
        self.gate.set_exception(asyncio.CancelledError())


async def test_a_drain_commit_waits_for_a_commit_in_flight(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    held = HeldCommit(rig)
    rig.handled(IN, 0, 1, 2)
    loop_commit = asyncio.ensure_future(rig.committer.commit())
    await held.began.wait()
    assert not rig.committer.pending  # the commit in flight took the offsets
    drain_commit = asyncio.ensure_future(rig.committer.commit(stable=True, revoking=True))
    await turns(10)
    assert not drain_commit.done()  # "nothing pending" is not the answer while a commit is under way
    held.release()
    await asyncio.gather(loop_commit, drain_commit)
    assert held.offsets == [{IN: 3}]


async def test_a_revocation_is_under_way_until_its_handler_returns(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    held = HeldCommit(rig)
    rig.handled(IN, 0)
    assert await rig.committer.revocations_done(0.0)
    revoking = asyncio.ensure_future(rig.app.on_partitions_revoked.send([IN]))
    await held.began.wait()
    assert not await rig.committer.revocations_done(0.0)
    assert not await rig.committer.revocations_done(0.05)
    waiting = asyncio.ensure_future(rig.committer.revocations_done(5.0))
    await turns(5)
    assert not waiting.done()
    held.release()
    await revoking
    assert await waiting
    assert held.offsets == [{IN: 1}]


async def test_a_drain_cancelled_as_the_revocation_ends_is_cancelled(tmp_path: Path) -> None:
    """The revocation's end and a cancellation of the waiting drain in one loop turn: the cancel wins
    (Python 3.11's ``wait_for`` returned True there, and a cancelled drain would have gone on to commit)."""
    rig = Rig(tmp_path)
    held = HeldCommit(rig)
    rig.handled(IN, 0)
    revoking = asyncio.ensure_future(rig.app.on_partitions_revoked.send([IN]))
    await held.began.wait()
    waiting = asyncio.ensure_future(rig.committer.revocations_done(5.0))
    await turns(3)
    rig.committer._no_revocation.set()  # the handler's end, as its finally does it
    waiting.cancel()  # in the same turn
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release()
    await revoking


async def test_a_revocation_commit_cancelled_by_the_thread_ends_the_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path)
    held = HeldCommit(rig)
    rig.handled(IN, 0, 1)
    revoking = asyncio.ensure_future(rig.app.on_partitions_revoked.send([IN]))
    await held.began.wait()
    with caplog.at_level(logging.WARNING, logger="dana_workflows.streams.kafka.commit"):
        held.cancel_in_thread()
        await revoking  # returns: aiokafka's coordinator (and the consumer's stop) can go on
    assert not revoking.cancelled()
    assert rig.committer.generation == 1
    assert rig.committer.pending  # not committed: still pending (the next owner redelivers them)
    assert await rig.committer.revocations_done(0.0)
    assert any("cancelled by the consumer's stop" in r.getMessage() for r in caplog.records)


async def test_a_cancelled_revocation_handler_is_cancelled(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    held = HeldCommit(rig)
    rig.handled(IN, 0)
    revoking = asyncio.ensure_future(rig.app.on_partitions_revoked.send([IN]))
    await held.began.wait()
    revoking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await revoking
    assert await rig.committer.revocations_done(0.0)


class DrainRig:
    """What ``KafkaRuntime.drain`` uses of the runtime: state, audit sink, and a committer that records
    its calls; ``ends``: per wait for revocations, seconds until the handler under way returns."""

    def __init__(self, ends: list[float]) -> None:
        self.calls: list[str] = []
        self.state = WorkerState()
        self.audit = None
        self._ends = ends
        self.committer = SimpleNamespace(
            revocations_done=self._done, commit=self._commit, summary=lambda: "-"
        )

    async def _done(self, timeout_s: float) -> bool:
        end = self._ends.pop(0)
        self.calls.append("wait")
        if end > timeout_s:
            return False
        await asyncio.sleep(end)
        self.calls.append("revocation done")
        return True

    async def _commit(self, stable: bool = False, revoking: bool = False) -> None:
        self.calls.append(f"commit stable={stable} revoking={revoking}")

    async def _revocations_done(self, deadline: float) -> None:
        await KafkaRuntime._revocations_done(self, deadline)  # type: ignore[arg-type]

    async def drain(self, timeout_s: float) -> None:
        await KafkaRuntime.drain(self, timeout_s)  # type: ignore[arg-type]


async def test_the_drain_waits_for_a_revocation_before_and_after_its_commit() -> None:
    rig = DrainRig([0.05, 0.05])
    await rig.drain(5.0)
    assert rig.calls == [
        "wait",
        "revocation done",
        "commit stable=True revoking=True",
        "wait",
        "revocation done",
    ]
    assert rig.state.draining


async def test_a_revocation_past_the_drains_time_is_logged_not_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = DrainRig([60.0, 60.0])
    with caplog.at_level(logging.WARNING, logger="dana_workflows.streams.kafka.app"):
        await rig.drain(1.0)
    assert rig.calls == ["wait", "commit stable=True revoking=True", "wait"]
    assert sum("still under way" in r.getMessage() for r in caplog.records) == 2
