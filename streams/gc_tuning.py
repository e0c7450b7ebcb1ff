"""The collector of a runtime's process, set once start-up is done (both runtimes: one home).

A worker holds ~160,000 objects after start-up (faust, aiokafka, the compiled workflow, schemas) that
live as long as it does, and each full collection walks them all: ~80-100 ms each, two or three in a
drain of 20,000 claims, besides ~0.2 s of young collections over the objects a batch keeps alive
(session 11, docs/performance.md). ``gc.freeze()`` moves what start-up built out of the collector's
sight (it is never garbage: modules, the app, the topology), so later full collections walk only what
the worker made since; a larger first threshold collects the youngest generation less often while a
batch (up to 500 records and their audit rows) is alive. Cycles are still collected.

The first threshold is 100,000 (session 19, docs/performance.md, session 19): the hop and the shared
processing make no cyclic garbage, so a young collection only walks rows that are still alive and frees
nothing; at 100,000 the hop bench's 2,970 records held run none (10,000: two a run) and the shared run
three instead of nine, ~1 µs an event less in both, the peak RSS the same. A worker's batch of 500
records (~4,600 tracked objects, freed when it is sent) runs none at either; a whole worker draining
20,000 claims ran 5 at 10,000 (0.44 µs a claim, 0 objects freed) and none at 100,000. A second freeze
after the first batches was measured and not kept: the objects the compiled workflow makes lazily are
~300 (0.01 ms of a full collection).

`dana-wf run` keeps every row of its run alive until it verifies the chain at the end, so there the
young collections over the growing rows are the cost (session 11, "shared processing": 68.4 -> 56.1
µs an event with the threshold raised, 7 alternating pairs); it settles the collector for the run
only and puts it back after (``settled_collector``), as the bench's in-process rows do. The Kafka
worker settles it for the process's life (``settle_after_startup``, from ``run_worker``: a process
that is a worker, never a test calling ``serve`` in its own process).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# young collections: one per this many allocations net of frees (CPython's default is 700; 10,000 until
# session 19)
YOUNG_THRESHOLD = 100_000


def settle_after_startup(young_threshold: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Collect what start-up left, freeze the survivors, raise the first threshold (the other two kept).
    Returns the thresholds now in force."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
    return gc.get_threshold()


@contextlib.contextmanager
def settled_collector(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[tuple[int, int, int]]:
    """``settle_after_startup`` for a block, then the collector as it was: thresholds restored and
    the frozen objects back in the collector's sight (a run inside a longer process, a library call)."""
    before = gc.get_threshold()
    try:
        yield settle_after_startup(young_threshold)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
