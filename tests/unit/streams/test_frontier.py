"""The commit frontier (streams/kafka/frontier.py): a partition's commit point never passes an offset that
was neither handled nor shown by the broker to hold no record."""

from __future__ import annotations

import pytest

from dana_workflows.streams.kafka.faults import DroppedRecords
from dana_workflows.streams.kafka.frontier import Frontier, Gap

pytestmark = pytest.mark.unit

K = ("t", 0)


def anchored(start: int = 0) -> Frontier:
    f = Frontier()
    f.anchor(K, start)
    return f


def test_contiguous_offsets_move_the_commit_point() -> None:
    f = anchored(10)
    for o in (10, 11, 12):
        f.handled(K, o)
    assert f.commit_point(K) == 13
    assert f.settled(K) and not f.gaps()


def test_a_gap_holds_the_commit_point_below_later_offsets() -> None:
    f = anchored(0)
    for o in (0, 1, 3, 4):
        f.handled(K, o)
    assert f.commit_point(K) == 2  # never past the record at 2
    assert f.gaps() == {K: Gap(2, 4)}
    assert not f.settled(K)
    f.handled(K, 2)  # the missing record arrives (handed back from the broker's copy)
    assert f.commit_point(K) == 5 and f.settled(K)


def test_offsets_without_records_are_accounted_for_by_a_scan() -> None:
    f = anchored(0)
    for o in (0, 1, 3, 4, 7):  # 2 and 5 are transaction markers, 6 a record never handled
        f.handled(K, o)
    never = f.scanned(K, 2, 7, records=[3, 4, 6, 7])
    assert never == [6]
    assert f.commit_point(K) == 6
    f.handled(K, 6)
    assert f.commit_point(K) == 8 and f.settled(K)


def test_a_scan_that_stopped_early_accounts_only_for_what_it_saw() -> None:
    f = anchored(0)
    f.handled(K, 5)
    assert f.scanned(K, 0, 2, records=[2]) == [2]  # 0 and 1 hold nothing; 3, 4 unknown yet
    assert f.commit_point(K) == 2
    assert f.gaps() == {K: Gap(2, 5)}


def test_handled_offsets_before_the_start_is_known_wait_for_the_anchor() -> None:
    f = Frontier()
    f.handled(K, 8)
    f.handled(K, 9)
    assert f.unanchored() == [K]
    assert f.commit_point(K) is None and not f.settled(K)
    f.anchor(K, 7)  # the group had committed 7: the record at 7 was not handled
    assert f.commit_point(K) is None  # nothing to move yet: 7 is the committed offset already
    assert f.gaps() == {K: Gap(7, 9)}
    f.anchor(K, 3)  # a second anchor does not move a known start
    assert f.gaps() == {K: Gap(7, 9)}


def test_second_delivery_is_recognised_until_the_partition_leaves() -> None:
    f = anchored(0)
    for o in (0, 1, 4):
        f.handled(K, o)
    assert f.is_handled(K, 1) and f.is_handled(K, 4)
    assert not f.is_handled(K, 2)
    assert not f.is_handled(("t", 1), 0)
    f.keep_only([("t", 1)])  # partition 0 went to another worker
    assert not f.is_handled(K, 1)


def test_commits_raise_the_floor_and_rewind_returns_to_it() -> None:
    f = anchored(0)
    for o in range(5):
        f.handled(K, o)
    f.committed(K, 5)
    assert f.commit_floor(K) == 5 and f.commit_point(K) is None
    f.handled(K, 5)
    f.handled(K, 6)
    assert f.commit_point(K) == 7
    f.rewind(K)  # the transaction holding 5 and 6 was aborted: they are to be handled again
    assert f.commit_point(K) is None
    assert not f.is_handled(K, 5) and f.is_handled(K, 4)


def test_an_offset_committed_beyond_what_was_handled_moves_everything_up() -> None:
    f = Frontier()
    f.handled(K, 2)
    f.handled(K, 3)
    f.committed(K, 2)  # unanchored: the commit anchors
    assert f.commit_point(K) == 4
    f.committed(K, 10)
    assert f.is_handled(K, 9) and f.commit_point(K) is None


def test_fault_injection_drops_the_first_record_at_or_after_each_offset_once() -> None:
    class Msg:
        def __init__(self, topic: str, partition: int, offset: int) -> None:
            self.topic, self.partition, self.offset = topic, partition, offset

    faults = DroppedRecords("wf.in:0:3, audit:1:0")
    assert not faults.drop(Msg("p.wf.in", 0, 2))
    assert faults.drop(Msg("p.wf.in", 0, 4))  # 3 was a transaction marker: the next record goes
    assert not faults.drop(Msg("p.wf.in", 0, 5))
    assert not faults.drop(Msg("p.wf.in", 1, 9))
    assert faults.drop(Msg("p.audit", 1, 0))
    assert faults.dropped == 2
    assert not DroppedRecords("").drop(Msg("x", 0, 0))
    with pytest.raises(ValueError, match="DWF_FAULT_DROP_RECORDS: 'nope'"):
        DroppedRecords("nope")
