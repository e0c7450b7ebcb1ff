"""The worker's garbage collector, set once start-up is done.

A worker holds ~160,000 objects after start-up (faust, aiokafka, the compiled workflow, schemas) that
live as long as it does, and each full collection walks them all: ~80-100 ms each, two or three in a
drain of 20,000 claims, besides ~0.2 s of young collections over the objects a batch keeps alive
(session 11, docs/performance.md). ``gc.freeze()`` moves what start-up built out of the collector's
sight (it is never garbage: modules, the app, the topology), so later full collections walk only what
the worker made since; a larger first threshold collects the youngest generation less often while a
batch (up to 500 records and their audit rows) is alive. Cycles are still collected.
"""

from __future__ import annotations

import gc

# young collections: one per this many allocations net of frees (CPython's default is 700)
YOUNG_THRESHOLD = 10_000


def settle_after_startup(young_threshold: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Collect what start-up left, freeze the survivors, raise the first threshold (the other two kept).
    Returns the thresholds now in force."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
    return gc.get_threshold()
