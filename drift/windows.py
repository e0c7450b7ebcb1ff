"""Event-time windows: what a spec declares (WindowDefinition) and what tracks them (WindowTracker).

Split the Quix Streams way: the definition is pure arithmetic on event times (microseconds); the
tracker keeps the watermark and the open windows in a plain MutableMapping, so the Kafka runtime can
back it with a changelog-backed table and a restarted worker carries on where the last one stopped.

A window ``[start, start + size)`` closes once the watermark reaches ``start + size + allowed_lateness``.
An event whose window has already closed is late: it is reported (never silently dropped) and counted only
in those of its windows that are still open.

The watermark, with one source (the local runtime, reading its input in order), is the largest event time
seen. With several sources (the Kafka runtime: each topic partition whose records end events' journeys
sends their values in order, and the sources interleave by batches), it is the MINIMUM of the sources'
own watermarks, as Flink and Kafka Streams combine their input partitions': a source ahead of another by a
batch's span of event time no longer closes the windows the other still fills. A source that sent nothing
for ``idle_us`` of arrival time (the time its messages reached the drift agent) while another sent stops
counting until it sends again (Flink's ``withIdleness``), so a stopped partition cannot hold the windows
back for ever; a source the runtime expects (``expect``) but has not heard from holds them back as long.
Only the messages of a source that forwarded none of its records to a later hop move that idle clock: a
source that forwarded records has them in flight at a later hop's source, whose silence (a slow batch: an
LLM step) is then no sign of idleness, and letting it go idle would close windows ahead of those records.
The combined watermark never moves back: events of a source that resumes behind it are late as always.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from dana_workflows.workflow.ir import WindowIR

US_PER_S = 1_000_000
SOURCE_IDLE_S = 30  # arrival time after which a silent source stops holding the windows back


@dataclass(frozen=True, slots=True)
class WindowDefinition:
    kind: Literal["tumbling", "hopping"]
    size_us: int
    step_us: int  # == size_us for tumbling
    lateness_us: int = 0

    def __post_init__(self) -> None:
        if self.size_us <= 0:
            raise ValueError(f"drift window size must be > 0, got {self.size_us} us")
        if not 0 < self.step_us <= self.size_us:
            raise ValueError(
                f"drift window step must be > 0 and <= size (got step {self.step_us} us, size "
                f"{self.size_us} us); a step larger than the size would leave events in no window"
            )
        if self.lateness_us < 0:
            raise ValueError(f"drift window allowed lateness must be >= 0, got {self.lateness_us} us")

    @classmethod
    def tumbling(cls, size_us: int, lateness_us: int = 0) -> WindowDefinition:
        return cls("tumbling", size_us, size_us, lateness_us)

    @classmethod
    def hopping(cls, size_us: int, step_us: int, lateness_us: int = 0) -> WindowDefinition:
        return cls("hopping", size_us, step_us, lateness_us)

    @classmethod
    def from_ir(cls, window: WindowIR) -> WindowDefinition:
        size = window.size_s * US_PER_S
        if window.kind == "tumbling":
            if window.step_s is not None and window.step_s != window.size_s:
                raise ValueError(
                    "drift.window: `step` is for hopping windows; remove it or set `kind: hopping`"
                )
            return cls.tumbling(size, window.allowed_lateness_s * US_PER_S)
        if window.step_s is None:
            raise ValueError("drift.window: a hopping window needs `step` (seconds between window starts)")
        return cls.hopping(size, window.step_s * US_PER_S, window.allowed_lateness_s * US_PER_S)

    def starts(self, t_us: int) -> tuple[int, ...]:
        """Starts of every window holding ``t_us``, oldest first."""
        last = t_us - t_us % self.step_us  # floor, also for times before the epoch
        if self.step_us == self.size_us:
            return (last,)
        first = last
        while first - self.step_us + self.size_us > t_us:
            first -= self.step_us
        return tuple(range(first, last + 1, self.step_us))

    def end(self, start_us: int) -> int:
        return start_us + self.size_us

    def closes_at(self, start_us: int) -> int:
        """The watermark at which the window closes."""
        return start_us + self.size_us + self.lateness_us


def event_time_us(produced_at_us: int, payload: Mapping[str, Any], time_field: str | None) -> int:
    """The event time windows use: the envelope's produced_at, or a payload field in epoch seconds."""
    if time_field is None:
        return produced_at_us
    value = payload.get(time_field)
    if type(value) is int:  # the common case (epoch seconds as JSON ints); round() of an int is itself
        return value * US_PER_S
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"drift.window.time_field {time_field!r}: expected epoch seconds (a number), got {value!r}; "
            "fix the field in the input or drop `time_field` to use produced_at"
        )
    return round(value * US_PER_S)


_UNSET = object()
_HELD = -(2**63)  # the floor while an expected source has sent nothing: below every event time


class Assignment(NamedTuple):
    open: tuple[int, ...]  # starts of the windows the event counts in
    late: tuple[int, ...]  # starts of its windows that had already closed


class WindowTracker:
    """Watermark and open windows, kept under ``<prefix>wm`` and ``<prefix>open`` in ``state``; with
    sources (``from_source``), each source's last arrival under ``<prefix>src`` (``{source: arrival_us}``),
    its own watermark under ``<prefix>s|<source>`` and the idle clock under ``<prefix>clk``.

    Only JSON values are stored (ints, a list of ints, a dict of ints), and every change is a fresh
    assignment, so a faust table records it in its changelog.
    """

    def __init__(
        self,
        definition: WindowDefinition,
        state: MutableMapping[str, Any],
        prefix: str,
        idle_us: int = SOURCE_IDLE_S * US_PER_S,
    ) -> None:
        self.definition = definition
        self._state = state
        self._prefix = prefix
        self._k_wm = prefix + "wm"
        self._k_open = prefix + "open"
        self._k_src = prefix + "src"
        self._k_clk = prefix + "clk"
        self._close_after = definition.size_us + definition.lateness_us  # closes_at(s) == s + this
        self._tumbling = definition.step_us == definition.size_us
        self._step_us = definition.step_us
        self.idle_us = idle_us
        # the source of the events being placed (from_source): its watermark's key, and the lowest
        # watermark of the other counting sources (None: none counts; _HELD: one has sent nothing yet)
        self._own_key: str | None = None
        self._floor: int | None = None

    def _source_key(self, source: str) -> str:
        return f"{self._prefix}s|{source}"

    def sources(self) -> dict[str, int]:
        """Each known source's last arrival time (microseconds)."""
        return dict(self._state.get(self._k_src) or {})

    def expect(self, sources: Iterable[str], arrival_us: int) -> None:
        """Sources the runtime knows will send (its input partitions), as it starts: until each has sent,
        or been idle for ``idle_us`` after ``arrival_us``, windows wait for it. A source the state knows
        keeps its watermark and gets the idle time anew: a worker started after downtime works off a
        backlog, whose first message would otherwise find every other source idle."""
        self._heard(sources, arrival_us)
        self._tick(arrival_us)

    def _heard(self, sources: Iterable[str], arrival_us: int) -> dict[str, int]:
        """Record ``arrival_us`` as each source's last arrival (never moving one back); the sources known."""
        seen = self.sources()
        for source in sources:
            seen[source] = max(arrival_us, seen.get(source, arrival_us))
        self._state[self._k_src] = seen  # a fresh assignment: the changelog records it
        return seen

    def _tick(self, arrival_us: int) -> int:
        """Move the idle clock (the latest arrival that can show a source idle) to ``arrival_us``."""
        clock = self._state.get(self._k_clk)
        if clock is None or arrival_us > clock:
            self._state[self._k_clk] = clock = arrival_us
        return int(clock)

    def from_source(self, source: str, arrival_us: int, forwarded: bool = False) -> None:
        """The events placed from now on come from ``source``, in its order, and arrived at
        ``arrival_us``: the windows close at the minimum of the counting sources' watermarks.
        ``forwarded``: the source's batch sent records on to a later hop (a progress header), so its
        arrival does not move the idle clock (they are in flight at another source)."""
        seen = self._heard((source,), arrival_us)
        clock = self._state.get(self._k_clk)
        if not forwarded or clock is None:
            clock = self._tick(arrival_us)
        active_since = clock - self.idle_us
        floor: int | None = None
        for other, last in seen.items():
            if other == source or last < active_since:  # an idle source stops counting
                continue
            wm = self._state.get(self._source_key(other))
            if wm is None:  # expected, not heard from yet: nothing closes
                floor = _HELD
                break
            floor = int(wm) if floor is None else min(floor, int(wm))
        self._own_key = self._source_key(source)
        self._floor = floor

    @contextmanager
    def buffered(self) -> Iterator[None]:
        """Place and advance a run of one source's events (``place``, ``advance``, ``watermark``; no other
        call) against a plain dict of the keys they read and write (the watermark, the open windows, the
        source's own watermark), written back to the state once at the end: a faust-table-backed state
        (TableState) answers each read in Python, ~5 an event. A key is written back when it was set
        during the run (each set is of a fresh object: a later time, a new list), so the state ends as
        after each call in turn."""
        real = self._state
        keys = [self._k_wm, self._k_open]
        if self._own_key is not None:
            keys.append(self._own_key)
        before = {key: value for key in keys if (value := real.get(key, _UNSET)) is not _UNSET}
        self._state = local = dict(before)
        try:
            yield
        finally:
            self._state = real
            for key, value in local.items():
                if value is not before.get(key, _UNSET):
                    real[key] = value

    @property
    def watermark(self) -> int | None:
        wm = self._state.get(self._k_wm)
        return None if wm is None else int(wm)

    def open_windows(self) -> list[int]:
        return list(self._state.get(self._k_open) or ())

    def assign(self, t_us: int) -> Assignment:
        """Which of the event's windows are open (opening new ones) and which are already closed."""
        return Assignment(*self.place(t_us))

    def place(self, t_us: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``assign`` as a plain (open, late) pair: the per-event path, without the NamedTuple."""
        state = self._state
        wm = state.get(self._k_wm)
        if self._tumbling:  # one window per event: no starts() tuple, no scan for late ones
            start = t_us - t_us % self._step_us
            if wm is not None and start + self._close_after <= wm:
                return (), (start,)
            live: tuple[int, ...] = (start,)
            opened = state.get(self._k_open)
            if opened is None or start not in opened:  # mostly it is open: one scan of a short list
                self._open(live, opened)
            return live, ()
        live = starts = self.definition.starts(t_us)
        late: tuple[int, ...] = ()
        if wm is not None and starts[0] + self._close_after <= wm:
            late = tuple(s for s in starts if s + self._close_after <= wm)
            live = starts[len(late) :]  # starts ascend, so the closed ones come first
        if live:
            opened = state.get(self._k_open)
            if opened is None or any(s not in opened for s in live):
                self._open(live, opened)
        return live, late

    def _open(self, starts: tuple[int, ...], opened: list[int] | None) -> None:
        """Add the windows at ``starts`` not yet open to the open ones (a fresh sorted list)."""
        fresh = list(opened or ())
        for s in starts:
            if s not in fresh:
                insort(fresh, s)
        self._state[self._k_open] = fresh

    def advance(self, t_us: int) -> list[int]:
        """Move the watermark to ``t_us`` if later (with sources: the source's own watermark, and the
        windows' to the lowest of the counting sources'); return the starts of windows that closed,
        oldest first."""
        if self._own_key is not None:
            own = self._state.get(self._own_key)
            if own is None or t_us > own:
                self._state[self._own_key] = own = t_us
            floor = self._floor
            if floor == _HELD:
                return []
            t_us = own if floor is None or own < floor else floor
        wm = self._state.get(self._k_wm)
        if wm is not None and t_us <= wm:
            return []
        self._state[self._k_wm] = t_us
        opened = self._state.get(self._k_open)
        close_after = self._close_after
        if not opened or opened[0] + close_after > t_us:
            return []
        n = 0
        while n < len(opened) and opened[n] + close_after <= t_us:
            n += 1
        self._state[self._k_open] = list(opened[n:])
        return list(opened[:n])

    def close_all(self) -> list[int]:
        """Close every open window (the end of a finite input); the watermark stays where it is."""
        opened = self.open_windows()
        if opened:
            self._state[self._k_open] = []
        return opened
