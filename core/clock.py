"""The one wall clock of the engine, in microseconds since the epoch (the audit's and Avro's unit).

Everything that stamps time takes a ``Clock`` argument defaulting to this function, so tests inject a
fake clock and the runtimes stamp alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def wall_clock_us() -> int:
    """Now, in whole microseconds since the Unix epoch."""
    return time.time_ns() // 1000
