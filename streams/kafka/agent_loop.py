"""The one loop every agent of a worker runs (fused steps, the audit sink, drift), and the registry of the
agents' handlers that the committer hands dropped records back to.

faust delivers one record at a time (its fetcher, conductor and stream). What an agent did per record
beyond that (a section per record, an audit message per record, a task per record that waits for its
audit) is what ``consume`` saves: the records already waiting in the agent's channel when one is taken
are handled with it, as one batch (up to ``MAX_BATCH``). A batch is cut as soon as the channel is empty,
so under a light load a batch is one record and nothing waits for company (latency stays that of one
record); under a backlog batches fill up and the per-record costs are paid once per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_BATCH = 500
DELIVERY_TURNS = 4  # loop turns an agent waits for faust to deliver the next fetched record (agent_loop)

Batch = list[Any]  # faust messages (topic, partition, offset, key, value, headers)
Handler = Callable[[Batch], Awaitable[None]]


class PartitionRevokedError(RuntimeError):
    """The source partition is no longer this worker's: leave the record to its new owner."""


@dataclass
class AgentStats:
    """What the watchdog and the committer read: progress per agent."""

    topic: str
    events: int = 0
    last_event_at: float = 0.0  # loop time of the last record taken
    last_offsets: dict[int, int] = field(default_factory=dict)  # partition -> last offset handled


@dataclass
class WorkerState:
    """Whether records are being handled, the worker drains, or it broke (then nothing commits again)."""

    inflight: int = 0
    draining: bool = False
    crashed: BaseException | None = None
    rebalances: int = 0  # partitions revoked so far (commit.py counts them)

    def idle(self) -> bool:
        return self.inflight == 0


class AgentRegistry:
    """Per source topic: how its agent handles records, and the lock that keeps a record the committer
    hands back (one faust dropped, commit.py) from running beside the agent's own. Every handling runs
    ``guarded``: a bug or a broken transaction stops the worker (nothing is committed past a record that
    was not fully handled); a revoked partition just leaves the record to its next owner."""

    def __init__(self, state: WorkerState, crash: Callable[[BaseException], Awaitable[Any]]) -> None:
        self.state = state
        self._crash = crash
        self.stats: dict[str, AgentStats] = {}  # per agent name
        self._handlers: dict[str, tuple[Handler, asyncio.Lock]] = {}
        self._taken_elsewhere: dict[str, Callable[[], int]] = {}

    def add(self, topic: str, handle: Handler) -> asyncio.Lock:
        lock = asyncio.Lock()
        self._handlers[topic] = (handle, lock)
        return lock

    def count_taken(self, topic: str, counter: Callable[[], int]) -> None:
        """An agent whose progress is not in ``stats`` (the audit sink: handled = stored, not taken)."""
        self._taken_elsewhere[topic] = counter

    def taken(self, topic: str) -> int:
        """Records the agent(s) of ``topic`` have taken from faust so far."""
        n = sum(s.events for s in self.stats.values() if s.topic == topic)
        counter = self._taken_elsewhere.get(topic)
        return n + counter() if counter is not None else n

    async def redeliver(self, record: Any) -> None:
        """Handle a record the committer found dropped by faust, as the topic's agent would."""
        handle, lock = self._handlers[record.topic]
        async with lock:
            await self.guarded(handle([record]))

    async def guarded(self, work: Awaitable[None]) -> None:
        state = self.state
        if state.draining or state.crashed is not None:
            if asyncio.iscoroutine(work):
                work.close()
            return
        state.inflight += 1
        try:
            await work
        except PartitionRevokedError as exc:
            log.info("%s", exc)
        except Exception as exc:
            state.crashed = exc
            log.exception("record handling failed; stopping the worker without committing it")
            await self._crash(exc)
        finally:
            state.inflight -= 1

    async def consume(
        self,
        stream: Any,
        stats: AgentStats,
        lock: asyncio.Lock,
        handle: Handler,
        *,
        drop: Callable[[Any], bool],
        track_offsets: bool = True,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """Take records from ``stream`` and run ``handle`` on batches of them under ``lock``.
        ``drop``: test-only fault injection (faults.py); ``track_offsets``: the agent's progress is the
        last offset taken (not for the audit sink, whose records count as handled once stored)."""
        queue = stream.channel.queue
        loop = asyncio.get_running_loop()
        batch: Batch = []
        taken_in = self.state.rebalances
        async for event in stream.events():
            msg = event.message
            stats.events += 1
            stats.last_event_at = loop.time()
            if not batch:
                taken_in = self.state.rebalances
            if not drop(msg):
                batch.append(msg)
            if batch and len(batch) < max_batch and queue.empty():
                # faust's fetcher hands records over one at a time, a few loop turns each (it waits for
                # each delivery): give it those turns to deliver what it has fetched already
                for _ in range(DELIVERY_TURNS):
                    await asyncio.sleep(0)
                    if not queue.empty():
                        break
            if not batch or (len(batch) < max_batch and not queue.empty()):
                continue
            taken, batch = batch, []
            if self.state.rebalances != taken_in:
                # taken before a rebalance that committed without them: left to be delivered again
                # (faust seeks to the committed offsets; a gap the committer finds is handled too)
                log.info("%d records taken before a rebalance: left to be delivered again", len(taken))
                continue
            async with lock:
                await self.guarded(handle(taken))
            if track_offsets:
                for m in taken:
                    stats.last_offsets[m.partition] = m.offset

    async def consume_intake(
        self,
        intake: Any,
        stats: AgentStats,
        lock: asyncio.Lock,
        handle: Handler,
        *,
        drop: Callable[[Any], bool],
        max_batch: int = MAX_BATCH,
    ) -> None:
        """Take batches of the records the fetch loop queued in ``intake`` (intake.py: the step agents'
        records, not through faust's per-record delivery) and run ``handle`` on them under ``lock``. A
        batch taken before the intake was closed (a revocation) is not handled: it is fetched again."""
        loop = asyncio.get_running_loop()
        while True:
            taken, generation = await intake.take(stats.topic, max_batch)
            stats.events += len(taken)
            stats.last_event_at = loop.time()
            batch = [m for m in taken if not drop(m)]
            if not batch:
                continue
            async with lock:
                if intake.generation != generation:
                    log.info("%d records taken before a rebalance: left to be fetched again", len(batch))
                    continue
                await self.guarded(handle(batch))
            for m in batch:
                stats.last_offsets[m.partition] = m.offset
