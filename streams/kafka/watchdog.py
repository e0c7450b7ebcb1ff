"""Stall watchdog: notices an agent that stopped taking records, or a worker that stopped committing,
while there is work waiting (a known faust failure: consumers that silently stop fetching).

A task on the worker's loop measures, every few seconds, each assigned partition's lag (high watermark
minus the next offset the agent has not handled) and how long it has gone without progress. The result
is kept as a reason string; ``__call__`` (the health callable, safe from another thread) returns it, or
says the loop itself is stuck when the measuring task has not run for too long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from dana_workflows.streams.kafka.context import AgentContext

log = logging.getLogger(__name__)


class StallWatchdog:
    def __init__(self, ctx: AgentContext, stall_s: float = 60.0) -> None:
        self.ctx = ctx
        self.stall_s = stall_s
        self.tick_s = max(0.2, min(5.0, stall_s / 4))
        self.reason: str | None = None
        self.checked_at = time.monotonic()
        self._progress: dict[tuple[str, int], tuple[int, float]] = {}  # tp -> (next offset, since)

    def __call__(self) -> str | None:
        """None while healthy, else why not (the callable dana_workflows.streams.health.Health expects)."""
        if time.monotonic() - self.checked_at > self.stall_s + 2 * self.tick_s:
            return f"worker event loop stuck: no watchdog check for {time.monotonic() - self.checked_at:.0f}s"
        return self.reason

    @property
    def healthy(self) -> bool:
        return self() is None

    async def run(self) -> None:
        beat = asyncio.get_running_loop().create_task(self._beat())
        try:
            while True:
                await asyncio.sleep(self.tick_s)
                try:
                    self.reason = await self.check()
                except Exception as exc:  # the check itself failing is worth saying, not crashing for
                    self.reason = f"watchdog check failed: {type(exc).__name__}: {exc}"
                if self.reason:
                    log.warning("worker unhealthy: %s", self.reason)
        finally:
            beat.cancel()

    async def _beat(self) -> None:
        """Loop liveness apart from the check: the check waits for broker answers (a ListOffsets can
        queue behind a long-polling fetch on the same connection), which is not a stuck loop."""
        while True:
            self.checked_at = time.monotonic()
            await asyncio.sleep(self.tick_s)

    async def check(self) -> str | None:
        ctx = self.ctx
        now = time.monotonic()
        assigned = watched_partitions(ctx)
        if not assigned:
            return None
        problems: list[str] = []
        for tp, hw, next_offset in await partition_progress(ctx, assigned):
            key = (tp.topic, tp.partition)
            seen, since = self._progress.get(key, (next_offset, now))
            if next_offset != seen or hw <= next_offset:
                since = now  # progress, or nothing to do
            self._progress[key] = (next_offset, since)
            if hw > next_offset and now - since > self.stall_s:
                problems.append(
                    f"{tp.topic}[{tp.partition}] stalled {now - since:.0f}s with lag {hw - next_offset}"
                )
        c = ctx.committer
        if c.pending and now - c.last_commit_at > self.stall_s:
            problems.append(f"no offset commit for {now - c.last_commit_at:.0f}s with records waiting")
        return "; ".join(problems) or None


def watched_partitions(ctx: AgentContext) -> list[Any]:
    """The partitions agents consume: tables' changelogs (written here, read only to recover) and faust's
    leader topic are assigned to the consumer but never consumed by an agent, so they have no lag."""
    unwatched = set(ctx.app.tables.changelog_topics)
    return [
        tp
        for tp in ctx.app.consumer.assignment()
        if tp.topic not in unwatched and not tp.topic.endswith("__assignor-__leader")
    ]


async def partition_progress(ctx: AgentContext, assigned: list[Any]) -> list[tuple[Any, int, int]]:
    """(partition, high watermark, next offset to handle) for each assigned partition with a watermark."""
    consumer: Any = ctx.app.consumer
    highwaters = await consumer.highwaters(*assigned)
    handled = {s.topic: s for s in ctx.agents.stats.values()}
    # the commit frontier also accounts for offsets without a record (a transaction marker after the
    # last record would otherwise look like a record waiting forever)
    bases = ctx.committer.frontier.bases()
    out: list[tuple[Any, int, int]] = []
    for tp in assigned:
        hw = highwaters.get(tp)
        if hw is None:
            continue
        stats = handled.get(tp.topic)
        if stats is not None and tp.partition in stats.last_offsets:
            next_offset = stats.last_offsets[tp.partition] + 1
        else:
            next_offset = await consumer.position(tp) or 0
        out.append((tp, hw, max(next_offset, bases.get((tp.topic, tp.partition), 0))))
    return out
