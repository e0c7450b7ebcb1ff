"""The comparison at the heart of ``audit checkpoint verify`` (sinks/checkpoints.py ``_compare``): committed
leaves against the rows stored now, each difference one Finding with its kind, checkpoint, run, seq and a
message naming them (kinds as listed on Finding: deleted, tail_cut, run_deleted, altered, backdated).
Inputs are written out by hand; the whole findings, messages included, are the expected values.
"""

from __future__ import annotations

import pytest

from dana_workflows.sinks.checkpoints import Checkpoint, Finding, Leaf, _compare

pytestmark = pytest.mark.unit


def _cp(index: int, as_of_us: int) -> Checkpoint:
    return Checkpoint("w", index, as_of_us, 0, "", "", (), "k")


def _leaf(run: str, seq: int, h: str = "", ts: int = 0) -> Leaf:
    return Leaf(run, seq, h or f"h-{run}-{seq}", ts)


def test_nothing_changed_is_no_finding() -> None:
    leaves = [_leaf("a", 0), _leaf("a", 1)]
    assert _compare("w", list(enumerate(leaves)), leaves, [_cp(0, 10), _cp(1, 20)], set()) == []


def test_a_deleted_middle_row_and_a_cut_tail_are_told_apart() -> None:
    committed = [(0, _leaf("a", 0)), (0, _leaf("a", 1)), (1, _leaf("a", 2)), (1, _leaf("a", 3))]
    stored = [_leaf("a", 0), _leaf("a", 2)]  # seq 1 deleted; seq 3 past the last stored seq (2): a cut tail
    assert _compare("w", committed, stored, [_cp(0, 10), _cp(1, 20)], set()) == [
        Finding("deleted", "w", "run a seq 1 (committed by checkpoint 0): deleted", 0, "a", 1),
        Finding(
            "tail_cut",
            "w",
            "run a seq 3 (committed by checkpoint 1): the end of its run is gone (a cut tail)",
            1,
            "a",
            3,
        ),
    ]


def test_a_run_with_no_row_left_is_one_finding_from_its_first_checkpoint() -> None:
    committed = [(2, _leaf("gone", 0)), (1, _leaf("gone", 1)), (3, _leaf("gone", 2)), (1, _leaf("kept", 0))]
    stored = [_leaf("kept", 0)]
    assert _compare("w", committed, stored, [_cp(i, 10 * i) for i in range(4)], set()) == [
        Finding(
            "run_deleted",
            "w",
            "run gone: all 3 of its committed rows are gone (from checkpoint 1 on)",
            1,
            "gone",
            0,
        )
    ]


def test_altered_rows_by_hash_and_by_edited_content() -> None:
    committed = [(0, _leaf("a", 0, "old")), (0, _leaf("a", 1)), (0, _leaf("a", 2))]
    stored = [_leaf("a", 0, "new"), _leaf("a", 1), _leaf("a", 2)]
    assert _compare("w", committed, stored, [_cp(0, 10)], {("a", 1)}) == [
        Finding("altered", "w", "run a seq 0 (committed by checkpoint 0): hash new now, old then", 0, "a", 0),
        Finding(
            "altered",
            "w",
            "run a seq 1 (committed by checkpoint 0): its content was edited and no longer matches its hash",
            0,
            "a",
            1,
        ),
    ]


def test_a_row_stored_later_with_a_closed_time_is_backdated_to_the_first_checkpoint_that_closed_it() -> None:
    committed = [(0, _leaf("a", 0, ts=5))]
    late = [_leaf("z", 0, ts=10), _leaf("y", 4, ts=11)]  # 10 is closed by checkpoint 0 (as of 10), 11 by 1
    stored = [_leaf("a", 0, ts=5), *late]
    assert _compare("w", committed, stored, [_cp(0, 10), _cp(1, 20)], set()) == [
        Finding(
            "backdated",
            "w",
            "run z seq 0: stored after checkpoint 0 with a time it had closed (10 us)",
            0,
            "z",
            0,
        ),
        Finding(
            "backdated",
            "w",
            "run y seq 4: stored after checkpoint 1 with a time it had closed (11 us)",
            1,
            "y",
            4,
        ),
    ]
