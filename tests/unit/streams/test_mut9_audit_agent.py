"""The audit sink agent (streams/kafka/audit_agent.py) with a stand-in context and store: `dwf.audit`
messages' rows are inserted in batches with the `<topic>-<partition>-<min>-<max>` dedup token, and an offset
is handed to the committer only once its batch is stored (a crash before the insert means redelivery, never
loss). A message without rows is handled at once, a poison one goes to the dlq, a record delivered twice is
stored once, and before a rebalance takes partitions away the rows consumed are stored and committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.batching import CommittedBatch
from dana_workflows.streams.kafka.audit_agent import AuditSinkAgent

pytestmark = pytest.mark.unit

TOPIC = "dwf.audit"


class Store:
    def __init__(self) -> None:
        self.inserts: list[tuple[list[Any], str | None]] = []
        self.schema_ensured = 0
        self.closed = False

    def ensure_schema(self) -> None:
        self.schema_ensured += 1

    def insert(self, rows: Sequence[Any], dedup_token: str | None = None) -> None:
        self.inserts.append((list(rows), dedup_token))

    def present(self, rows: Sequence[Any]) -> set[str]:
        return set()

    def close(self) -> None:
        self.closed = True


class Committer:
    def __init__(self) -> None:
        self.done_offsets: list[tuple[str, int, int]] = []
        self.stale_offsets: set[int] = set()
        self.before_revoke_commit: list[Any] = []

    def stale(self, msg: Any) -> bool:
        return bool(msg.offset in self.stale_offsets)

    def done(self, topic: str, partition: int, offset: int) -> None:
        self.done_offsets.append((topic, partition, offset))


class Codec:
    def decode_rows(self, value: Any) -> list[Any]:
        if value == "poison":
            raise PoisonMessageError("not an AuditBatch", b"\x00")
        return list(value)


class Context:
    def __init__(
        self, *, exactly_once: bool = False, batch_size: int = 2, interval_s: float = 3600.0
    ) -> None:
        self.options = SimpleNamespace(
            audit_batch_size=batch_size, audit_interval_s=interval_s, audit_buffer_max=100
        )
        self.exactly_once = exactly_once
        self.topology = SimpleNamespace(audit_topic=TOPIC)
        self.committer = Committer()
        self.codec = Codec()
        self.counted: dict[str, Any] = {}
        self.agents = SimpleNamespace(count_taken=self.counted.__setitem__)
        self.added: list[tuple[Any, ...]] = []
        self.poisoned: list[tuple[Any, str]] = []

    def raw_topic(self, topic: str) -> tuple[str, str]:
        return ("raw", topic)

    def add_agent(self, topic: Any, name: str, stats: Any, fn: Any, *, track_offsets: bool = True) -> None:
        self.added.append((topic, name, stats, fn, track_offsets))

    async def send_poison(self, msg: Any, exc: PoisonMessageError) -> None:
        self.poisoned.append((msg.offset, exc.reason))


def msg(offset: int, value: Any, partition: int = 0) -> SimpleNamespace:
    return SimpleNamespace(topic=TOPIC, partition=partition, offset=offset, value=value)


def make(**kw: Any) -> tuple[AuditSinkAgent, Context, Store]:
    ctx, store = Context(**kw), Store()
    return AuditSinkAgent(ctx, store), ctx, store  # type: ignore[arg-type]


def test_it_registers_one_agent_on_the_raw_audit_topic_that_does_not_track_offsets_itself() -> None:
    agent, ctx, _ = make()
    ((topic, name, stats, _, track_offsets),) = ctx.added
    assert topic == ("raw", TOPIC)
    assert name == "audit-sink"
    assert stats is agent.stats and stats.topic == TOPIC
    assert track_offsets is False  # an offset is handled when its batch is stored, not when taken
    stats.events = 7
    assert ctx.counted[TOPIC]() == 7
    assert agent.events == 7


def test_replays_are_checked_under_exactly_once_only() -> None:
    """At-least-once keeps redelivered duplicates visible; exactly-once leaves out rows already stored."""
    assert make(exactly_once=True)[0].sink.check_replays is True
    assert make(exactly_once=False)[0].sink.check_replays is False


def test_offsets_are_done_only_after_their_batch_is_stored() -> None:
    agent, ctx, store = make(batch_size=3)
    stored: list[CommittedBatch] = []
    agent.on_stored.append(stored.append)

    async def main() -> None:
        await agent.start()
        await agent._each([msg(5, ["r1"]), msg(6, ["r2"])])  # 2 rows: the batch of 3 is still open
        assert store.inserts == []
        assert ctx.committer.done_offsets == []
        await agent.flush()

    asyncio.run(main())
    assert store.schema_ensured == 1
    assert store.inserts == [(["r1", "r2"], f"{TOPIC}-0-5-6")]
    assert ctx.committer.done_offsets == [(TOPIC, 0, 5), (TOPIC, 0, 6)]
    (batch,) = stored
    assert (batch.topic, batch.partition, batch.offsets, batch.rows) == (TOPIC, 0, (5, 6), 2)


def test_partitions_are_batched_and_committed_apart() -> None:
    agent, ctx, store = make(batch_size=10)

    async def main() -> None:
        await agent._each([msg(1, ["a"], partition=0), msg(1, ["b", "c"], partition=1)])
        await agent.flush()

    asyncio.run(main())
    assert sorted(store.inserts) == [(["a"], f"{TOPIC}-0-1-1"), (["b", "c"], f"{TOPIC}-1-1-1")]
    assert sorted(ctx.committer.done_offsets) == [(TOPIC, 0, 1), (TOPIC, 1, 1)]


def test_a_message_without_rows_is_done_at_once() -> None:
    agent, ctx, store = make()
    asyncio.run(agent.handle(msg(3, [])))
    assert ctx.committer.done_offsets == [(TOPIC, 0, 3)]
    assert store.inserts == []


def test_a_poison_message_goes_to_the_dlq_and_is_not_stored() -> None:
    agent, ctx, store = make()

    async def main() -> None:
        await agent.handle(msg(4, "poison"))
        await agent.flush()

    asyncio.run(main())
    assert ctx.poisoned == [(4, "not an AuditBatch")]
    assert store.inserts == []
    assert ctx.committer.done_offsets == []  # send_poison accounts for it


def test_a_stale_record_and_a_record_already_in_an_unstored_batch_are_left_out() -> None:
    agent, ctx, store = make(batch_size=10)
    ctx.committer.stale_offsets = {9}

    async def main() -> None:
        await agent._each([msg(9, ["stale"]), msg(2, ["r"]), msg(2, ["r"])])  # 2 handed back before stored
        await agent.flush()

    asyncio.run(main())
    assert store.inserts == [(["r"], f"{TOPIC}-0-2-2")]
    assert ctx.committer.done_offsets == [(TOPIC, 0, 2)]


def test_a_record_handed_back_after_its_batch_was_stored_is_stored_again() -> None:
    """Once stored and done, the record is no longer 'in a batch not stored yet': a redelivery is taken."""
    agent, ctx, store = make(batch_size=10)

    async def main() -> None:
        await agent.handle(msg(2, ["r"]))
        await agent.flush()
        await agent.handle(msg(2, ["r"]))
        await agent.flush()

    asyncio.run(main())
    assert len(store.inserts) == 2
    assert ctx.committer.done_offsets == [(TOPIC, 0, 2), (TOPIC, 0, 2)]


def test_before_a_rebalance_the_rows_consumed_are_stored_and_committed() -> None:
    agent, ctx, store = make(batch_size=10)

    async def main() -> None:
        await agent.handle(msg(0, ["r0"]))
        (before_revoke,) = ctx.committer.before_revoke_commit
        await before_revoke()

    asyncio.run(main())
    assert store.inserts == [(["r0"], f"{TOPIC}-0-0-0")]
    assert ctx.committer.done_offsets == [(TOPIC, 0, 0)]


def test_close_stores_what_is_buffered_and_closes_the_store() -> None:
    agent, ctx, store = make(batch_size=10)

    async def main() -> None:
        await agent.handle(msg(0, ["r0"]))
        await agent.close()

    asyncio.run(main())
    assert store.inserts == [(["r0"], f"{TOPIC}-0-0-0")]
    assert ctx.committer.done_offsets == [(TOPIC, 0, 0)]
    assert store.closed


async def until(condition: Any, bound_s: float = 10.0) -> None:
    """Poll for a condition with a bound (no sleep as proof)."""
    for _ in range(int(bound_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within the bound")


def test_the_registered_agent_inserts_a_full_batch_without_a_flush() -> None:
    """DWF_AUDIT_BATCH_SIZE rows make a batch: inserted as soon as it is full."""
    agent, ctx, store = make(batch_size=2)
    ((_, _, _, each, _),) = ctx.added

    async def main() -> None:
        await each([msg(0, ["r0"]), msg(1, ["r1"]), msg(2, ["r2"])])
        await until(lambda: len(store.inserts) == 1)
        assert ctx.committer.done_offsets == [(TOPIC, 0, 0), (TOPIC, 0, 1)]  # r2's batch is not full
        await agent.close()

    asyncio.run(main())
    assert store.inserts == [(["r0", "r1"], f"{TOPIC}-0-0-1"), (["r2"], f"{TOPIC}-0-2-2")]


def test_a_batch_not_full_is_inserted_after_the_interval() -> None:
    """DWF_AUDIT_BATCH_INTERVAL_S: rows wait at most that long for their batch to fill."""
    agent, ctx, store = make(batch_size=50, interval_s=0.05)

    async def main() -> None:
        await agent.handle(msg(0, ["r0"]))
        await until(lambda: len(store.inserts) == 1)
        await agent.close()

    asyncio.run(main())
    assert store.inserts == [(["r0"], f"{TOPIC}-0-0-0")]
    assert ctx.committer.done_offsets == [(TOPIC, 0, 0)]
