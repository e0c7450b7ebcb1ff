"""Hold back the Kafka client's repeats while a broker is down: aiokafka logs `Unable connect to node ...`,
`Failed fetch messages ...` and the coordinator's errors at every retry, several a millisecond (a 40 s outage
under one worker: ~3,700 ERROR lines). The first of a kind goes through; the same kind again within
``window_s`` is counted, and the next one let through after the window says how many were held back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WINDOW_S = 10.0


class RepeatFilter(logging.Filter):
    """For the handlers of a long-running process: one line per kind (logger and message template) per
    window from the loggers under ``prefix``; the worker's own lines are never held back."""

    def __init__(
        self,
        prefix: str = "aiokafka",
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefix, self.window_s, self.clock = prefix, window_s, clock
        self._last: dict[tuple[str, object], float] = {}
        self._held: dict[tuple[str, object], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        kind = (record.name, record.msg)
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.window_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it held back in the last {self.window_s:.0f} s)"
        return True
