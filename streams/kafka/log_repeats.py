"""Hold back the Kafka client's repeats while a broker is down: aiokafka logs `Unable connect to node ...`,
`Failed fetch messages ...` and the coordinator's errors at every retry, several a millisecond (a 40 s outage
under one worker: ~3,700 ERROR lines). The first of a kind goes through; the same kind again within
``window_s`` is counted, and the next one let through after the window says how many were held back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WINDOW_S = 10.0
PRUNE_AT = 1_000  # kinds remembered before those of past windows are dropped
_DECIDED = "_dwf_repeat_shown"  # set on a record once one handler's filter decided it: the others follow


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
        self._prune_at = PRUNE_AT

    def kinds_held(self) -> int:
        """How many kinds the filter remembers: those of the last window, not every one since the start."""
        return len(self._last)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        # Each root handler has a filter: the first decides (and may add the count to the message); the
        # others follow it, else they read the amended message as a new kind and show it again.
        decided = getattr(record, _DECIDED, None)
        if decided is not None:
            return bool(decided)
        shown = self._decide(record)
        setattr(record, _DECIDED, shown)
        return shown

    def _decide(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.msg)
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.window_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        if (
            last is None and len(self._last) >= self._prune_at
        ):  # a message whose text varies: a new kind each time
            self._forget_before(now - self.window_s)
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it held back in the last {self.window_s:.0f} s)"
        return True

    def _forget_before(self, cutoff: float) -> None:
        """Drop the kinds last shown before ``cutoff`` (their window is over; a count held for one is lost,
        as it would never be told if the kind did not come again). Amortised: at most once per doubling."""
        for kind in [k for k, t in self._last.items() if t < cutoff]:
            del self._last[kind]
            self._held.pop(kind, None)
        self._prune_at = max(PRUNE_AT, 2 * len(self._last))
