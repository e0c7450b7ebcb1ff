"""A runtime's collector after start-up (streams/gc_tuning.py): start-up's objects frozen, the first
threshold raised, the older two as they were; for a block only, then put back as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dana_workflows.streams.gc_tuning import YOUNG_THRESHOLD, settle_after_startup, settled_collector

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Leave the collector as this test found it (other tests share the process)."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_startup_objects_are_frozen_and_the_young_threshold_raised(restored_gc: None) -> None:
    gc.set_threshold(700, 11, 12)
    built_at_startup = [object() for _ in range(3)]  # noqa: F841  (alive through the call)
    tracked_before = len(gc.get_objects())

    assert settle_after_startup(5_000) == (5_000, 11, 12)
    assert gc.get_threshold() == (5_000, 11, 12)
    # what was alive is in the permanent generation, out of the collector's sight
    assert gc.get_freeze_count() >= tracked_before // 2
    assert len(gc.get_objects()) < tracked_before // 2


def test_the_default_threshold_is_above_cpythons(restored_gc: None) -> None:
    assert settle_after_startup()[0] == YOUNG_THRESHOLD
    assert YOUNG_THRESHOLD > 700  # CPython's default: the point of raising it


def test_a_cycle_made_after_startup_is_still_collected(restored_gc: None) -> None:
    settle_after_startup(10)

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2


def test_a_settled_block_puts_the_collector_back_as_it_was(restored_gc: None) -> None:
    gc.set_threshold(700, 11, 12)
    alive = [object() for _ in range(3)]  # noqa: F841
    with settled_collector(4_000) as inside:
        assert inside == (4_000, 11, 12) == gc.get_threshold()
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (700, 11, 12)
    assert gc.get_freeze_count() == 0  # start-up's objects back in the collector's sight


def test_a_settled_block_that_raises_still_puts_the_collector_back(restored_gc: None) -> None:
    gc.set_threshold(700, 11, 12)
    with pytest.raises(RuntimeError), settled_collector(4_000):
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == (700, 11, 12) and gc.get_freeze_count() == 0
