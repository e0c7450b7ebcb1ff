"""What the committer (streams/kafka/commit.py) decides, as its module docstring states it, against
stand-ins for faust's client objects (tests/unit/streams/kafka_fakes.py) that record every call:

- a source offset is committed only through offsets that were handled or hold no record, and only once
  every send made so far was delivered; a failed delivery stops the worker without committing;
- a gap is resolved against the broker's view: a marker is accounted for, a record never handled is
  handled from the broker's copy when it is still missing at the next commit, and only once;
- at-least-once: a record's other sends leave only once its audit rows are acknowledged; exactly-once: the
  rows join the partition's batch, which goes into the transaction with the offsets at the commit;
- on revocation: the records in hand are finished, the hooks run, what was handled is committed (and
  visible to the group before the rebalance goes on under exactly-once), a gap is committed up to under
  at-least-once and its transaction aborted under exactly-once, and a record still in hand sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiokafka.structs import TopicPartition

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.kafka.agent_loop import PartitionRevokedError
from dana_workflows.streams.kafka.commit import AUDIT_MESSAGE_BYTES, Committer, DeliveryError
from dana_workflows.streams.kafka.wire import WireCodec
from tests.unit.streams.kafka_fakes import Agents, App, Call, View, record

pytestmark = pytest.mark.unit

IN = ("claims", 0)
IN1 = ("claims", 1)
AUDIT = "claims.audit"
GROUP = 2  # the partition group of topic "claims" (the assignor's)
TID = f"claims-app-{GROUP}-0"  # the transactional id faust gives partition 0's producer: <app id>-<group>-<p>


class Tick:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp_path: Path, exactly_once: bool = False, with_codec: bool = True) -> None:
        self.app = App({"claims": GROUP})
        self.view = View()
        self.agents = Agents()
        self.clock = Tick()
        self.codec = WireCodec(FileRegistry(tmp_path / "schemas")) if with_codec else None
        self.committer = Committer(
            self.app,
            exactly_once,
            view=self.view,  # type: ignore[arg-type]
            agents=self.agents,  # type: ignore[arg-type]
            codec=self.codec,
            audit_topic=AUDIT if with_codec else None,
            revoke_timeout_s=5.0,
            clock=self.clock,
        )

    @property
    def calls(self) -> list[Call]:
        return self.app.calls

    def group_commits(self) -> list[dict[tuple[str, int], int]]:
        return [c[1] for c in self.calls if c[0] == "group commit"]

    def handled(self, key: tuple[str, int], *offsets: int) -> None:
        for offset in offsets:
            self.committer.done(key[0], key[1], offset)


def rows(n: int, reason: str = "") -> list[AuditRow]:
    return [AuditRow("claims", 1, "run-1", i, f"e-{i}", "check", "emitted", reason=reason) for i in range(n)]


async def finish_tasks() -> None:
    """Collect the tasks the committer left (a send that waited for a failed audit batch fails too; its
    error is the commit's, already seen), so none is garbage-collected with an unread exception."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    await asyncio.gather(*others, return_exceptions=True)


async def turns(n: int = 5) -> None:
    """Let tasks the committer started run (scheduling turns, not time)."""
    for _ in range(n):
        await asyncio.sleep(0)


# -- at-least-once: which offsets, when ------------------------------------------------------------------
async def test_handled_offsets_are_committed_from_where_the_group_started(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.start[IN] = 10  # the group's committed offset: consuming started here
    rig.handled(IN, 10, 11, 12)
    assert rig.committer.pending
    rig.clock.now = 107.0
    await rig.committer.commit()
    assert rig.view.asked == [[IN]]
    assert rig.group_commits() == [{IN: 13}]  # the next offset to read
    assert not rig.committer.pending
    assert rig.committer.last_commit_at == 107.0
    # nothing new: no commit at all, and the start is not asked again
    await rig.committer.commit()
    assert rig.group_commits() == [{IN: 13}]
    assert rig.view.asked == [[IN]]


async def test_offsets_below_the_start_do_not_move_the_commit(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.start[IN] = 5
    rig.handled(IN, 3, 4)  # delivered again from before the committed offset
    await rig.committer.commit()
    assert rig.group_commits() == []
    rig.handled(IN, 5)
    await rig.committer.commit()
    assert rig.group_commits() == [{IN: 6}]


async def test_each_partition_commits_its_own_point(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0, 1)
    rig.handled(IN1, 0)
    await rig.committer.commit()
    assert rig.view.asked == [[IN, IN1]]
    assert rig.group_commits() == [{IN: 2, IN1: 1}]
    rig.handled(IN1, 1)
    await rig.committer.commit()
    assert rig.group_commits()[-1] == {IN1: 2}  # only what moved


async def test_a_rejected_group_commit_is_tried_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0, 1)
    rig.app.consumer.accept = False  # e.g. a rebalance under way
    await rig.committer.commit()
    assert rig.committer.pending
    assert rig.committer.frontier.commit_floor(IN) == 0  # not taken as committed
    rig.app.consumer.accept = True
    await rig.committer.commit()
    assert rig.group_commits() == [{IN: 2}, {IN: 2}]
    assert not rig.committer.pending
    assert rig.committer.frontier.commit_floor(IN) == 2


async def test_a_handled_or_committed_offset_is_stale_and_a_new_one_is_not(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.start[IN] = 4
    assert not rig.committer.stale(record(*IN, 4))
    rig.handled(IN, 4, 6)
    assert rig.committer.stale(record(*IN, 4))
    assert rig.committer.stale(record(*IN, 6))
    assert not rig.committer.stale(record(*IN, 5))
    assert not rig.committer.stale(record(*IN1, 4))
    await rig.committer.commit()
    assert rig.committer.stale(record(*IN, 2))  # below the group's committed offset: done for good


async def test_the_commit_waits_for_every_send_and_a_failed_one_stops_the_worker(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.app.plain.fail = ConnectionError("broker gone")
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"k", b"v")
        section.done(0)
    rig.clock.now = 150.0
    await rig.committer.commit()
    assert rig.group_commits() == []  # nothing committed past an undelivered send
    (crash,) = rig.app.crashes
    assert isinstance(crash, DeliveryError)
    assert str(crash) == "a send was not delivered: ConnectionError: broker gone"
    assert rig.committer.broken is crash
    assert rig.agents.state.crashed is crash
    assert rig.committer.last_commit_at == 100.0  # no commit happened
    rig.app.plain.fail = None
    rig.handled(IN, 1)
    await rig.committer.commit()
    assert rig.group_commits() == []  # broken: never commits again
    assert len(rig.view.asked) == 1  # the second commit did not even begin


async def test_sends_are_waited_for_even_when_no_offset_moves(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.app.plain.fail = ConnectionError("refused")
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"k", b"v")
    await rig.committer.commit()
    assert len(rig.app.crashes) == 1


# -- gaps: the broker's view -----------------------------------------------------------------------------
async def test_a_marker_in_a_gap_is_accounted_for(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2, 4}  # offset 3 holds no record (a transaction marker)
    rig.handled(IN, 0, 1, 2, 4)
    await rig.committer.commit()
    assert rig.view.scans == [{IN: (3, 4)}]
    assert rig.group_commits() == [{IN: 5}]
    assert not rig.committer.pending
    assert rig.agents.handed_back == []


async def test_a_dropped_record_is_handled_from_the_brokers_copy_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2}
    rig.handled(IN, 0, 2)  # 1 was dropped
    await rig.committer.commit()
    assert rig.view.scans == [{IN: (1, 2)}]
    assert rig.group_commits() == [{IN: 1}]  # up to the gap only
    await turns()
    assert rig.agents.handed_back == []  # missing once: maybe its batch is a moment late
    assert rig.committer.pending  # the gap waits

    await rig.committer.commit()
    await turns()
    assert [(r.topic, r.partition, r.offset) for r in rig.agents.handed_back] == [(*IN, 1)]
    assert rig.committer.healed[IN] == 1

    await rig.committer.commit()  # still not handled (the hand-back is slow): not handed back twice
    await turns()
    assert len(rig.agents.handed_back) == 1

    rig.handled(IN, 1)  # the hand-back finished
    await rig.committer.commit()
    assert rig.group_commits()[-1] == {IN: 3}
    assert "1 dropped records handled again" in rig.committer.summary()


async def test_a_record_is_handed_back_once_missing_at_two_commits_in_a_row(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2, 3, 4, 5}
    rig.handled(IN, 0, 2, 5)  # 1, 3 and 4 missing
    await rig.committer.commit()
    rig.handled(IN, 1)  # 1 arrives late
    await rig.committer.commit()
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == [3, 4]  # missing at both commits, in order
    rig.view.records[IN] |= {6, 7}
    rig.handled(IN, 7)  # 6 missing: only once so far
    await rig.committer.commit()
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == [3, 4]  # none twice, 6 not yet


async def test_a_run_of_dropped_records_is_handed_back_at_the_second_commit(tmp_path: Path) -> None:
    """faust can drop a run of records after a seek (its read offset moved past them): each is handed
    back, not one a commit."""
    rig = Rig(tmp_path)
    rig.view.records[IN] = set(range(12))
    rig.handled(IN, 0, 1, 11)  # 2..10 dropped
    await rig.committer.commit()
    await rig.committer.commit()
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == list(range(2, 11))
    rig.handled(IN, *range(2, 11))
    await rig.committer.commit()
    assert rig.group_commits()[-1] == {IN: 12}


async def test_an_unreadable_broker_view_keeps_the_gap(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.fail = TimeoutError("no answer")
    rig.handled(IN, 0, 1, 3)
    await rig.committer.commit()
    assert rig.group_commits() == [{IN: 2}]
    assert rig.app.crashes == []
    rig.view.fail = None  # offset 2 is a marker
    await rig.committer.commit()
    assert rig.group_commits()[-1] == {IN: 4}


async def test_an_idle_partition_fetched_past_its_frontier_is_scanned(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.agents.taken_count["claims"] = 3
    rig.handled(IN, 0, 1, 2)
    await rig.committer.commit()  # the first commit only notes what each agent has taken
    assert rig.view.scans == []
    rig.app.consumer.positions[IN] = 5  # the consumer fetched 3 and 4; the agent took nothing since
    await rig.committer.commit()
    assert rig.view.scans == [{IN: (3, 4)}]
    assert rig.group_commits()[-1] == {IN: 5}  # both are markers: accounted for


async def test_a_dropped_last_record_is_found_by_its_idle_tail(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2}
    rig.agents.taken_count["claims"] = 2
    rig.app.consumer.positions[IN] = 3
    rig.handled(IN, 0, 1)  # 2, the last record, was dropped: no later record shows its gap
    await rig.committer.commit()
    await rig.committer.commit()
    await rig.committer.commit()
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == [2]
    assert rig.view.scans[-1] == {IN: (2, 2)}


async def test_no_tail_is_scanned_while_the_agent_takes_records(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.app.consumer.positions[IN] = 9
    rig.agents.taken_count["claims"] = 3
    rig.handled(IN, 0, 1, 2)
    await rig.committer.commit()
    rig.agents.taken_count["claims"] = 4  # took one since: it is on its way, not dropped
    await rig.committer.commit()
    assert rig.view.scans == []


@pytest.mark.parametrize("why", ["rebalancing", "position at the frontier", "not assigned"])
async def test_no_tail_is_scanned_when_nothing_can_be_waiting(tmp_path: Path, why: str) -> None:
    rig = Rig(tmp_path)
    rig.agents.taken_count["claims"] = 3
    rig.app.consumer.positions[IN] = 7
    rig.handled(IN, 0, 1, 2)
    await rig.committer.commit()
    if why == "rebalancing":
        rig.app.flowing = False
    elif why == "position at the frontier":
        rig.app.consumer.positions[IN] = 3
    else:
        del rig.app.consumer.positions[IN]
    await rig.committer.commit()
    assert rig.view.scans == []
    assert rig.app.crashes == []


# -- at-least-once: audit rows before outputs ------------------------------------------------------------
async def test_outputs_leave_only_once_the_records_audit_rows_are_acknowledged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    assert rig.codec is not None
    rig.app.plain.hold = True
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(2))
        await section.send("claims.approved", b"e-1", b"out-1")
        await section.send("claims.approved", b"e-2", b"out-2")
        section.done(0)
    await turns()
    sends = [c for c in rig.calls if c[0] == "send"]
    assert [(c[1], c[2]) for c in sends] == [(AUDIT, b"claims:0")]
    assert [r.seq for r in rig.codec.decode_rows(sends[0][3])] == [0, 1]

    committing = asyncio.ensure_future(rig.committer.commit())
    await turns()
    assert rig.group_commits() == []  # waits for the deliveries
    rig.app.plain.hold = False
    rig.app.plain.held.pop().set_result(None)  # the audit message is acknowledged
    await committing
    sends = [c for c in rig.calls if c[0] == "send"]
    assert [(c[1], c[2], c[3]) for c in sends[1:]] == [
        ("claims.approved", b"e-1", b"out-1"),
        ("claims.approved", b"e-2", b"out-2"),
    ]
    assert rig.group_commits() == [{IN: 1}]


async def test_an_unacknowledged_audit_batch_sends_no_output_and_commits_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.app.plain.hold = True
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        await section.send("claims.approved", b"e-1", b"out-1")
        section.done(0)
    rig.app.plain.held.pop().set_exception(ConnectionError("lost"))
    await rig.committer.commit()
    await finish_tasks()
    assert [c[1] for c in rig.calls if c[0] == "send"] == [AUDIT]  # the output never left
    assert rig.group_commits() == []
    assert isinstance(rig.committer.broken, DeliveryError)


async def test_rows_past_the_message_limit_go_in_several_messages_all_waited_for(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    assert rig.codec is not None
    big = rows(3, reason="x" * (AUDIT_MESSAGE_BYTES // 2))
    rig.app.plain.hold = True
    async with rig.committer.section(*IN) as section:
        await section.audit(big)
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    audit = [c for c in rig.calls if c[0] == "send"]
    assert [c[1] for c in audit] == [AUDIT, AUDIT]
    assert [r.seq for c in audit for r in rig.codec.decode_rows(c[3])] == [0, 1, 2]
    rig.app.plain.hold = False
    rig.app.plain.held[0].set_result(None)
    await turns()
    assert len([c for c in rig.calls if c[0] == "send"]) == 2  # the output waits for the second too
    rig.app.plain.held[1].set_result(None)
    await rig.committer.commit()
    assert [c[1] for c in rig.calls if c[0] == "send"] == [AUDIT, AUDIT, "claims.approved"]


async def test_a_section_without_audit_rows_sends_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    async with rig.committer.section(*IN) as section:
        await section.audit([])
        await section.send("claims.approved", b"e", b"out")
        assert [c[1] for c in rig.calls if c[0] == "send"] == ["claims.approved"]
        section.done(0)


async def test_audit_rows_need_the_codec_and_topic(tmp_path: Path) -> None:
    rig = Rig(tmp_path, with_codec=False)
    async with rig.committer.section(*IN) as section:
        with pytest.raises(RuntimeError, match="without codec/audit_topic"):
            await section.audit(rows(1))


# -- exactly-once ----------------------------------------------------------------------------------------
async def test_a_section_works_in_its_partitions_transaction(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    with pytest.raises(PartitionRevokedError, match=f"no transaction for claims\\[0\\] \\({TID}\\)"):
        async with rig.committer.section(*IN):
            pass
    txn = rig.app.open_transaction(TID)
    del rig.app.producer._transaction_producers[TID]
    with pytest.raises(PartitionRevokedError, match=f"transaction {TID} was stopped"):
        async with rig.committer.section(*IN):
            pass
    rig.app.producer._transaction_producers[TID] = txn
    lock = rig.app.producer._trn_locks[TID]
    async with rig.committer.section(*IN) as section:
        assert lock.locked()  # a commit of this transaction waits for the record's sends
        await section.send("claims.approved", b"e", b"out")
    assert txn.calls == [("send", "claims.approved", b"e", b"out")]
    assert not lock.locked()


async def test_a_transaction_commits_the_audit_batch_and_offsets_with_the_outputs(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    assert rig.codec is not None
    txn = rig.app.open_transaction(TID)
    for offset, batch in ((0, rows(2)), (1, rows(1))):
        async with rig.committer.section(*IN) as section:
            await section.audit(batch)
            await section.send("claims.approved", b"e", b"out")
            section.done(offset)
    assert [c[1] for c in txn.calls] == ["claims.approved", "claims.approved"]  # rows wait for the commit
    rig.clock.now = 120.0
    await rig.committer.commit()
    sends = [c for c in txn.calls if c[0] == "send"]
    assert (sends[2][1], sends[2][2]) == (AUDIT, b"claims:0")
    assert len(rig.codec.decode_rows(sends[2][3])) == 3  # both records' rows, one message
    assert txn.calls[3:] == [("offsets", {IN: 2}, "claims-app"), ("commit",), ("begin",)]
    assert rig.group_commits() == []  # never through the group under exactly-once
    assert not rig.committer.pending
    assert rig.committer.frontier.commit_floor(IN) == 2
    assert rig.committer.last_commit_at == 120.0
    await rig.committer.commit()
    assert len(txn.calls) == 6  # nothing new: no transaction committed


async def test_a_full_audit_batch_goes_into_the_transaction_before_the_commit(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    assert rig.codec is not None
    txn = rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(3, reason="x" * (AUDIT_MESSAGE_BYTES // 2)))
        section.done(0)
    sent = [c for c in txn.calls if c[0] == "send"]
    assert [c[1] for c in sent] == [AUDIT]  # cut once the batch reached the limit
    assert [r.seq for r in rig.codec.decode_rows(sent[0][3])] == [0, 1]
    await rig.committer.commit()
    sent = [c for c in txn.calls if c[0] == "send"]
    assert [r.seq for r in rig.codec.decode_rows(sent[1][3])] == [2]


async def test_audit_rows_sent_now_go_at_once_in_the_transaction(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1), now=True)
        await section.send("claims.approved", b"e", b"out")  # not held back: same transaction
        section.done(0)
    assert [c[1] for c in txn.calls] == [AUDIT, "claims.approved"]


async def test_a_failed_send_in_a_transaction_commits_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    txn.fail = ConnectionError("fenced")
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    await rig.committer.commit()
    assert [c[0] for c in txn.calls] == ["send"]
    assert isinstance(rig.app.crashes[0], DeliveryError)


async def test_a_transaction_above_a_gap_waits_for_the_gap(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    rig.view.records[IN] = {0, 1, 2}
    rig.handled(IN, 0, 2)
    await rig.committer.commit()
    assert txn.calls == []  # holds record 2 above the gap at 1
    assert rig.committer.pending
    rig.handled(IN, 1)
    await rig.committer.commit()
    assert txn.calls == [("offsets", {IN: 3}, "claims-app"), ("commit",), ("begin",)]


@pytest.mark.parametrize("gone", ["topic", "lock", "transaction"])
async def test_what_was_handled_for_a_lost_transaction_is_void(tmp_path: Path, gone: str) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    rig.handled(IN, 1)
    await rig.committer.commit()
    assert rig.committer.frontier.commit_floor(IN) == 2
    rig.handled(IN, 2, 3)
    if gone == "topic":
        del rig.app.groups["claims"]
    elif gone == "lock":
        del rig.app.producer._trn_locks[TID]
    else:
        del rig.app.producer._transaction_producers[TID]
    calls = len(txn.calls)
    await rig.committer.commit()
    assert len(txn.calls) == calls  # nothing committed
    assert not rig.committer.pending
    # handled again when delivered again; what was committed stays done
    assert not rig.committer.stale(record(*IN, 2))
    assert rig.committer.stale(record(*IN, 1))


# -- revocation ------------------------------------------------------------------------------------------
async def test_a_revocation_finishes_the_record_in_hand_runs_the_hooks_then_commits(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0)
    state = rig.agents.state
    state.inflight = 1
    order: list[str] = []

    async def finish_record() -> None:
        await turns(3)
        rig.handled(IN, 1)
        state.inflight = 0

    async def store_audit() -> None:
        order.append("hook")

    async def failing_hook() -> None:
        raise OSError("store down")

    rig.committer.before_revoke_commit += [failing_hook, store_audit]
    finishing = asyncio.ensure_future(finish_record())
    await rig.app.on_partitions_revoked.send([IN])
    await finishing
    assert state.rebalances == 1
    assert order == ["hook"]  # a failing hook does not stop the others or the commit
    assert rig.group_commits() == [{IN: 2}]  # including the record that was in hand
    assert rig.committer.generation == 1


async def test_a_revocation_with_nothing_pending_commits_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.clock.now = 130.0
    await rig.app.on_partitions_revoked.send([])
    assert rig.calls == []
    assert rig.view.asked == []
    assert rig.committer.last_commit_at == 130.0
    assert rig.committer.generation == 1


async def test_a_record_still_in_hand_at_a_revocation_sends_and_registers_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    async with rig.committer.section(*IN) as section:
        await rig.app.on_partitions_revoked.send([IN])
        await section.audit(rows(1))
        await section.send("claims.approved", b"e", b"out")
        section.done(7)
    assert [c for c in rig.calls if c[0] == "send"] == []
    assert not rig.committer.stale(record(*IN, 7))  # left to be delivered again
    assert not rig.committer.pending


async def test_a_revocation_commits_up_to_a_gap_under_at_least_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2, 3}
    rig.handled(IN, 0, 2)
    await rig.committer.commit()
    await rig.app.on_partitions_revoked.send([IN])  # 1 missing twice, but the consumer is paused
    await turns()
    assert rig.agents.handed_back == []
    assert rig.group_commits() == [{IN: 1}]


async def test_a_revocation_aborts_a_transaction_above_a_gap(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    rig.view.records[IN] = {0, 1, 2}
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    rig.handled(IN, 2)
    await rig.app.on_partitions_revoked.send([IN])
    assert [c[0] for c in txn.calls] == ["send", "abort", "begin"]
    assert not rig.committer.pending
    assert not rig.committer.stale(record(*IN, 0))  # redone from the committed offset
    assert not rig.committer.stale(record(*IN, 2))


async def test_a_revocation_waits_until_the_group_shows_the_transactions_offsets(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    rig.app.consumer.lag = 2  # the offsets show up at the third OffsetFetch
    rig.handled(IN, 0, 1, 2)
    await rig.app.on_partitions_revoked.send([IN])
    assert txn.calls == [("offsets", {IN: 3}, "claims-app"), ("commit",), ("begin",)]
    assert rig.app.consumer.fetches == 3
    assert rig.app.consumer.group[IN] == 3


async def test_a_plain_commit_does_not_wait_for_the_group(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    rig.app.open_transaction(TID)
    rig.app.consumer.lag = 2
    rig.handled(IN, 0)
    await rig.committer.commit()
    assert rig.app.consumer.fetches == 0


async def test_an_assignment_forgets_the_partitions_that_left(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0, 1)
    rig.handled(IN1, 0, 1)
    await rig.app.on_partitions_assigned.send([record(*IN, 0)])  # TopicPartition-like: topic, partition
    assert not rig.committer.stale(record(*IN1, 0))
    assert rig.committer.stale(record(*IN, 0))
    await rig.committer.commit()
    assert rig.group_commits() == [{IN: 2}]


async def test_an_assignment_lets_a_record_be_handed_back_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2}
    rig.handled(IN, 0, 2)
    for _ in range(3):
        await rig.committer.commit()
    await turns()
    assert len(rig.agents.handed_back) == 1
    await rig.app.on_partitions_assigned.send([record(*IN, 0)])  # stayed here
    for _ in range(2):
        await rig.committer.commit()
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == [1, 1]


def test_the_summary_counts_records_per_partition(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    assert rig.committer.summary() == "handled 0 records: none"
    rig.handled(IN1, 5)
    rig.handled(IN, 0, 1)
    assert rig.committer.summary() == "handled 3 records: claims[0] 2, claims[1] 1"


async def test_a_transaction_with_nothing_to_move_commits_without_offsets(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    rig.view.start[IN] = 5
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        section.done(3)  # delivered again from below the group's committed offset: its rows still go
    await rig.committer.commit()
    assert [c[0] for c in txn.calls] == ["send", "commit", "begin"]
    assert txn.calls[0][1] == AUDIT


@pytest.mark.parametrize("gone", ["transaction", "lock", "gap at the revocation"])
async def test_a_failed_send_of_a_voided_transaction_does_not_stop_the_worker(
    tmp_path: Path, gone: str
) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    rig.view.records[IN] = {0, 1, 2}
    txn.fail = ConnectionError("fenced")
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    if gone == "transaction":
        del rig.app.producer._transaction_producers[TID]
        await rig.committer.commit()
    elif gone == "lock":
        del rig.app.producer._trn_locks[TID]
        await rig.committer.commit()
    else:
        rig.handled(IN, 2)  # above a gap at 1: the revocation aborts the transaction
        await rig.app.on_partitions_revoked.send([IN])
    # the next owner (here: this worker again) redoes the record in a new transaction
    again = rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"e", b"out")
        section.done(0)
    await rig.committer.commit()
    assert rig.app.crashes == []
    assert again.calls[-3:] == [("offsets", {IN: 1}, "claims-app"), ("commit",), ("begin",)]


async def test_an_assignment_drops_the_audit_rows_of_partitions_that_left(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    rig.app.open_transaction(TID)
    rig.app.open_transaction(f"claims-app-{GROUP}-1")
    for key in (IN, IN1):
        async with rig.committer.section(*key) as section:
            await section.audit(rows(1))
            section.done(0)
    assert rig.calls == []  # the rows wait for their transactions' commits
    await rig.app.on_partitions_assigned.send([record(*IN, 0)])
    await rig.committer.commit()
    # partition 1's rows are the next owner's to write, with the records it redoes
    assert [(c[1], c[2]) for c in rig.calls if c[0] == "send"] == [(AUDIT, b"claims:0")]


# -- what the operator reads in the worker's log ----------------------------------------------------------
def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.endswith("kafka.commit") and r.levelno == level]


async def test_the_log_names_a_failed_delivery_and_a_refused_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = Rig(tmp_path)
    rig.handled(IN, 0, 1)
    rig.app.consumer.accept = False
    await rig.committer.commit()
    assert logged(caplog, logging.WARNING) == [
        "offset commit failed (rebalance?): 1 partitions will be redelivered"
    ]
    rig.app.plain.fail = ConnectionError("broker gone")
    async with rig.committer.section(*IN) as section:
        await section.send("claims.approved", b"k", b"v")
    await rig.committer.commit()
    assert logged(caplog, logging.ERROR) == [
        "a send was not delivered: ConnectionError: broker gone; stopping the worker without committing"
    ]


async def test_the_log_names_an_unreadable_view_and_a_record_handed_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = Rig(tmp_path)
    rig.view.fail = TimeoutError("no answer")
    rig.view.records[IN] = {0, 1, 2}
    rig.handled(IN, 0, 2)
    await rig.committer.commit()
    assert logged(caplog, logging.WARNING) == [
        "could not read the broker's view of [('claims', 0)]: TimeoutError: no answer"
    ]
    caplog.clear()
    rig.view.fail = None
    await rig.committer.commit()
    await rig.committer.commit()
    await turns()
    assert logged(caplog, logging.WARNING) == [
        "claims[0]@1 is waiting unhandled (dropped by faust, or its agent is still on it): "
        "handling it from the broker's copy"
    ]


async def test_the_log_says_what_a_revocation_committed_and_what_it_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = Rig(tmp_path)
    rig.handled(IN, 0, 1)
    rig.handled(IN1, 0)

    async def failing_hook() -> None:
        raise OSError("store down")

    rig.committer.before_revoke_commit.append(failing_hook)
    async with rig.committer.section(*IN) as section:
        await rig.app.on_partitions_revoked.send([IN, IN1])
        section.done(2)
    assert logged(caplog, logging.WARNING) == ["before the revoke commit: OSError: store down"]
    assert logged(caplog, logging.INFO) == [
        "partitions revoked (idle True): committed claims[0]@2, claims[1]@1",
        "claims[0]@2 handled across a rebalance: nothing sent, it is delivered again",
    ]
    caplog.clear()
    await rig.app.on_partitions_revoked.send([])
    assert logged(caplog, logging.INFO) == ["partitions revoked (idle True): committed nothing pending"]


async def test_the_log_names_an_aborted_transaction(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    rig.app.open_transaction(TID)
    rig.view.records[IN] = {0, 1, 2}
    rig.handled(IN, 0, 2)
    await rig.app.on_partitions_revoked.send([IN])
    assert logged(caplog, logging.WARNING) == [
        f"aborting transaction {TID}: a gap in [('claims', 0)] could not be healed before the rebalance; "
        "its records are redone from the committed offsets"
    ]


def test_the_summary_counts_records_handed_back(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0)
    rig.committer.healed[IN] += 2
    assert rig.committer.summary() == "handled 1 records: claims[0] 1; 2 dropped records handled again"


# -- found by mutation testing ------------------------------------------------------------------------------
ERROR_HEADERS = [("dwf-error", b"amount must be positive")]


async def test_headers_travel_with_a_send_and_with_a_send_held_for_the_audit(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    async with rig.committer.section(*IN) as section:
        await section.send("claims.rejected", b"e-1", b"v", ERROR_HEADERS)  # no audit rows: at once
    rig.app.plain.hold = True
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        await section.send("claims.rejected", b"e-2", b"v", ERROR_HEADERS)  # after the audit batch
        section.done(0)
    rig.app.plain.hold = False
    rig.app.plain.held.pop().set_result(None)
    await rig.committer.commit()
    assert rig.app.plain.headers[("claims.rejected", b"e-1")] == ERROR_HEADERS
    assert rig.app.plain.headers[("claims.rejected", b"e-2")] == ERROR_HEADERS


async def test_audit_rows_need_an_audit_topic_too(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.committer.audit_topic = None
    async with rig.committer.section(*IN) as section:
        with pytest.raises(RuntimeError) as raised:
            await section.audit(rows(1))
    assert str(raised.value) == "Committer built without codec/audit_topic cannot send audit rows"


async def test_a_failed_audit_send_now_in_a_transaction_commits_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(TID)
    txn.fail = ConnectionError("fenced")
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1), now=True)
        section.done(0)
    await rig.committer.commit()
    assert [c[0] for c in txn.calls] == ["send"]
    assert isinstance(rig.committer.broken, DeliveryError)


async def test_a_full_audit_batch_is_keyed_by_its_source_partition(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    txn = rig.app.open_transaction(f"claims-app-{GROUP}-1")
    async with rig.committer.section(*IN1) as section:
        await section.audit(rows(3, reason="x" * (AUDIT_MESSAGE_BYTES // 2)))
    assert [(c[1], c[2]) for c in txn.calls] == [(AUDIT, b"claims:1")]


@pytest.mark.parametrize("why", ["gap", "lock", "transaction", "abort"])
async def test_one_partitions_transaction_never_holds_back_anothers(tmp_path: Path, why: str) -> None:
    """Four partitions cannot commit now (a gap, a lost lock or transaction, or an abort at a revocation),
    four can: each of those four commits, whatever order the partitions come in."""
    rig = Rig(tmp_path, exactly_once=True)
    for p in range(8):
        rig.app.open_transaction(f"claims-app-{GROUP}-{p}")
    for p in range(8):
        rig.view.records[("claims", p)] = {0, 1, 2}
        rig.handled(("claims", p), 0, 2) if p < 4 else rig.handled(("claims", p), 0, 1)
    for p in range(4):
        if why == "lock":
            del rig.app.producer._trn_locks[f"claims-app-{GROUP}-{p}"]
        elif why == "transaction":
            del rig.app.producer._transaction_producers[f"claims-app-{GROUP}-{p}"]
    if why == "abort":
        await rig.app.on_partitions_revoked.send([("claims", p) for p in range(8)])
    else:
        await rig.committer.commit()
    committed = [c[1] for c in rig.calls if c[0] == "offsets"]
    assert sorted(committed, key=str) == [{("claims", p): 2} for p in range(4, 8)]
    assert rig.calls.count(("commit",)) == 4


async def test_no_tail_scan_is_lost_to_a_partition_that_left(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.agents.taken_count["claims"] = 16
    for p in range(8):
        rig.handled(("claims", p), 0, 1)
        if p >= 4:
            rig.app.consumer.positions[("claims", p)] = 3  # partitions 0-3 are not assigned any more
    await rig.committer.commit()
    await rig.committer.commit()
    assert rig.view.scans == [{("claims", p): (2, 2) for p in range(4, 8)}]


async def test_an_assignment_leaves_nothing_pending_that_was_not(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.app.on_partitions_assigned.send([record(*IN, 0), record(*IN1, 0)])
    assert not rig.committer.pending


async def test_revocations_are_counted(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.app.on_partitions_revoked.send([])
    await rig.app.on_partitions_revoked.send([])
    assert rig.agents.state.rebalances == 2
    assert rig.committer.generation == 2


async def test_a_revocation_waits_for_a_slow_record_in_hand(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.handled(IN, 0)
    state = rig.agents.state
    state.inflight = 1

    async def finish_record() -> None:
        await turns(200)  # many loop turns: longer than the revocation's own steps take
        rig.handled(IN, 1)
        state.inflight = 0

    finishing = asyncio.ensure_future(finish_record())
    await rig.app.on_partitions_revoked.send([IN])
    await finishing
    assert rig.group_commits() == [{IN: 2}]


async def test_a_hung_hook_is_abandoned_at_the_revocation_timeout(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.committer.revoke_timeout_s = 0.05
    rig.handled(IN, 0)
    never = asyncio.Event()

    async def hung() -> None:
        await never.wait()

    rig.committer.before_revoke_commit.append(hung)
    await asyncio.wait_for(rig.app.on_partitions_revoked.send([IN]), 5)  # bounded: fails, not hangs
    assert rig.group_commits() == [{IN: 1}]


async def test_every_record_handed_back_is_counted(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.view.records[IN] = {0, 1, 2, 3, 4}
    rig.handled(IN, 0, 2, 4)
    await rig.committer.commit()
    await rig.committer.commit()  # 1 handed back
    await turns()
    rig.handled(IN, 1)
    await rig.committer.commit()
    await rig.committer.commit()  # 3 handed back
    await turns()
    assert [r.offset for r in rig.agents.handed_back] == [1, 3]
    assert rig.committer.healed[IN] == 2


async def test_a_voided_partitions_audit_rows_are_dropped_with_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    assert rig.codec is not None
    rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(2))
        section.done(0)
    del rig.app.producer._transaction_producers[TID]
    await rig.committer.commit()  # the transaction is gone: the record is redone
    again = rig.app.open_transaction(TID)
    async with rig.committer.section(*IN) as section:
        await section.audit(rows(1))
        section.done(0)
    await rig.committer.commit()
    (audit,) = [c for c in again.calls if c[0] == "send"]
    assert len(rig.codec.decode_rows(audit[3])) == 1  # the redo's rows only


async def test_the_group_is_waited_for_even_at_offset_one(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    rig.app.open_transaction(TID)
    rig.app.consumer.lag = 1
    rig.handled(IN, 0)
    await rig.app.on_partitions_revoked.send([IN])
    assert rig.app.consumer.fetches == 2 and rig.app.consumer.group[IN] == 1


async def test_offsets_never_visible_are_given_up_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, exactly_once=True)
    await rig.committer._wait_stable({TopicPartition(*IN): 3}, timeout_s=0.05)  # the group shows nothing
    assert logged(caplog, logging.WARNING) == [
        "committed offsets not visible after 0s: [TopicPartition(topic='claims', partition=0)]"
    ]
