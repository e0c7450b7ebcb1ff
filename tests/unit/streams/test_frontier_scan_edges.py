"""The commit frontier's scan at the edges of the scanned range (streams/kafka/frontier.py).

`scanned(key, start, end, records)` is inclusive of `end`: under exactly-once the broker writes a
transaction marker after the last record of each transaction, so the offset right after a partition's
last record holds no record, and the consumer's position is one past it. If the last offset of a scan
were left unaccounted for, the commit point would stick one short of the position for good: the group's
lag never reaches zero and the partition never counts as settled.
"""

from __future__ import annotations

import pytest

from dana_workflows.streams.kafka.frontier import Frontier, Gap
from tests.unit.streams.test_frontier import K, anchored

pytestmark = pytest.mark.unit


def test_a_marker_alone_at_the_end_of_a_partition_is_accounted_for() -> None:
    f = anchored(0)
    for o in range(5):  # records 0..4 handled, the commit marker at 5, the position 6
        f.handled(K, o)
    assert f.commit_point(K) == 5
    assert f.scanned(K, 5, 5, records=[]) == []
    assert f.commit_point(K) == 6
    assert f.settled(K) and not f.gaps()


def test_markers_at_both_ends_of_a_gap_are_accounted_for() -> None:
    f = anchored(0)
    for o in (0, 1, 3):  # 2 and 4 are markers, 3 a handled record between them
        f.handled(K, o)
    assert f.gaps() == {K: Gap(2, 3)}
    assert f.scanned(K, 2, 4, records=[3]) == []
    assert f.commit_point(K) == 5
    assert f.settled(K)


def test_a_record_at_the_end_of_the_range_is_returned_not_accounted_for() -> None:
    f = anchored(0)
    f.handled(K, 0)
    f.handled(K, 2)
    assert f.scanned(K, 1, 3, records=[2, 3]) == [3]  # 1 is a marker; 3 a record never handled
    assert f.commit_point(K) == 3  # through the marker and the handled 2, never past the record at 3
    f.handled(K, 3)
    assert f.commit_point(K) == 4 and f.settled(K)


def test_a_scan_below_the_committed_offset_changes_nothing() -> None:
    f = anchored(10)
    f.handled(K, 10)
    assert f.scanned(K, 0, 9, records=[3]) == []  # all below the start: done before this worker
    assert f.commit_point(K) == 11


def test_a_stale_commit_report_never_moves_the_floor_back() -> None:
    """A commit seen late (an older offset, from before a rebalance) leaves what is done for good done."""
    f = anchored(10)
    f.handled(K, 10)
    f.committed(K, 11)
    assert f.commit_floor(K) == 11
    f.committed(K, 5)
    assert f.commit_floor(K) == 11 and f.commit_point(K) is None


def test_a_partition_never_seen_has_no_floor_no_commit_point_and_nothing_scanned() -> None:
    f = Frontier()
    assert f.commit_floor(K) is None
    assert f.commit_point(K) is None
    assert f.scanned(K, 0, 5, records=[1]) == []


def test_a_partition_whose_start_is_unknown_scans_nothing() -> None:
    f = Frontier()
    f.handled(K, 3)  # not anchored yet: which offsets are done is not known
    assert f.scanned(K, 0, 5, records=[1]) == []
    assert f.commit_point(K) is None


def test_a_commit_reported_for_a_partition_never_seen_anchors_it() -> None:
    f = Frontier()
    f.committed(K, 7)
    assert f.commit_floor(K) == 7 and f.is_handled(K, 6) and not f.is_handled(K, 7)


def test_a_commit_by_another_owner_past_a_gap_keeps_what_was_handled_at_it() -> None:
    f = anchored(0)
    f.handled(K, 0)
    f.handled(K, 5)  # 1..4 not handled here
    f.committed(K, 5)  # another owner committed through 4
    assert f.is_handled(K, 5)  # handled here: not handled again
    assert f.commit_point(K) == 6
