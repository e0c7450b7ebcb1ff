"""A watermark per source (drift/windows.py): events of several sources, each in its own order, interleaved
a batch at a time (as the Kafka step agents send them), give the windows of the same events in order, with
no late event; a source that goes quiet stops holding the windows back after the idle time.

Expected values come from the events in event-time order through the one-source path (the local runtime's):
the spec of the windows is "the same counts as in order", whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.drift import DriftMonitor, DriftRecord, LateEvent
from dana_workflows.drift.windows import US_PER_S
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

SIZE_S, LATENESS_S = 100, 10
IDLE_US = 30 * US_PER_S
KINDS = ("a", "b", "c")
Event = tuple[int, str]  # event time (us), the monitored value


def drift_ir(kind: str = "tumbling") -> DriftIR:
    step = SIZE_S // 2 if kind == "hopping" else None
    window = WindowIR(kind=kind, size_s=SIZE_S, step_s=step, allowed_lateness_s=LATENESS_S)
    return DriftIR(window=window, monitors=(DriftMonitorIR(id="kinds", field="kind", reference_windows=2),))


def new_monitor(state: dict[str, Any], kind: str = "tumbling") -> DriftMonitor:
    return DriftMonitor("wf", drift_ir(kind), state, baselines={})


def windows(records: list[DriftRecord | LateEvent]) -> list[tuple[Any, ...]]:
    """What a window row says, without how it closed (a watermark in order, the flush for the windows
    the lowest source had not passed yet)."""
    out = []
    for r in records:
        assert isinstance(r, DriftRecord)
        out.append((r.monitor, r.window_start_us, r.count, r.psi, r.level, r.reference))
    return out


def starts(records: list[DriftRecord | LateEvent]) -> list[int]:
    return [r.window_start_us for r in records if isinstance(r, DriftRecord)]


def in_order(events: list[Event], kind: str = "tumbling") -> list[tuple[Any, ...]]:
    """The spec: every event counted in its windows, as the local runtime reads them in order."""
    monitor = new_monitor({}, kind)
    out: list[DriftRecord | LateEvent] = []
    for t, value in sorted(events):
        out.extend(monitor.observe({"kinds": value}, t))
    assert monitor.late_events == 0
    return windows([*out, *monitor.flush()])


def batches(streams: dict[str, list[Event]], size: int) -> Iterator[tuple[str, list[Event]]]:
    """Each source's events ``size`` at a time, the sources taking turns (the step agent's batches)."""
    at = dict.fromkeys(streams, 0)
    while any(at[s] < len(streams[s]) for s in streams):
        for source, events in streams.items():
            if at[source] < len(events):
                yield source, events[at[source] : at[source] + size]
                at[source] += size


def through_sources(
    monitor: DriftMonitor, runs: list[tuple[str, list[Event]]], arrival_us: int = 0
) -> list[DriftRecord | LateEvent]:
    out: list[DriftRecord | LateEvent] = []
    for source, events in runs:
        monitor.from_source(source, arrival_us)
        for t, value in events:
            out.extend(monitor.observe({"kinds": value}, t))
    return out


def two_partitions(n: int) -> dict[str, list[Event]]:
    """Claims one second apart, alternately on two partitions: each partition in event-time order."""
    streams: dict[str, list[Event]] = {"in:0": [], "in:1": []}
    for i in range(n):
        streams[f"in:{i % 2}"].append((i * US_PER_S, KINDS[i * 7 % 5 % 3]))
    return streams


def test_two_sources_in_batches_count_no_late_event_and_the_in_order_windows() -> None:
    streams = two_partitions(1200)  # 12 windows; a batch of 150 spans 300 s of event time, lateness 10 s
    runs = list(batches(streams, 150))
    state: dict[str, Any] = {}
    monitor = new_monitor(state)
    monitor.expect(streams, 0)
    out = through_sources(monitor, runs)
    assert monitor.late_events == 0
    assert not [r for r in out if isinstance(r, LateEvent)]
    closed = windows(out)
    assert len(closed) >= 10  # the windows closed as the lower source moved on, not only at the flush
    assert [*closed, *windows(list(monitor.flush()))] == in_order([e for s in streams.values() for e in s])


def test_one_watermark_for_all_sources_counts_the_batches_behind_as_late() -> None:
    """The defect this fixes, on the same events: without sources the watermark is the largest time seen."""
    streams = two_partitions(1200)
    monitor = new_monitor({})
    for _, events in batches(streams, 150):
        for t, value in events:
            monitor.observe({"kinds": value}, t)
    assert monitor.late_events > 200


def test_a_restart_over_the_same_state_continues_the_sources() -> None:
    streams = two_partitions(1200)
    runs = list(batches(streams, 150))
    state: dict[str, Any] = {}
    first = new_monitor(state)
    first.expect(streams, 0)
    out = through_sources(first, runs[:7])
    second = new_monitor(state)  # a new worker over the changelog-backed table
    second.expect(streams, 0)  # known sources are kept as the state has them
    out += through_sources(second, runs[7:])
    assert second.late_events == 0
    assert windows([*out, *second.flush()]) == in_order([e for s in streams.values() for e in s])


def test_a_worker_started_after_downtime_waits_for_every_source_again() -> None:
    """A restart is a backlog too: the sources' last arrivals in the state are old, and without a fresh
    idle time each the first partition's first batch would find the others idle and close their windows."""
    streams = two_partitions(1200)
    runs = list(batches(streams, 150))
    state: dict[str, Any] = {}
    first = new_monitor(state)
    first.expect(streams, 0)
    out = through_sources(first, runs[:2], arrival_us=0)
    later = 100 * IDLE_US  # the worker was down; its backlog arrives at once
    second = new_monitor(state)
    second.expect(streams, later)
    out += through_sources(second, runs[2:], arrival_us=later)
    assert second.late_events == 0
    assert windows([*out, *second.flush()]) == in_order([e for s in streams.values() for e in s])


def test_a_quiet_source_stops_holding_the_windows_after_the_idle_time() -> None:
    state: dict[str, Any] = {}
    monitor = new_monitor(state)
    monitor.expect(["in:0", "in:1"], 0)
    ahead = [(i * US_PER_S, "a") for i in range(0, 500)]
    # in:1 has sent nothing: the windows wait for it
    assert through_sources(monitor, [("in:0", ahead[:250])], arrival_us=0) == []
    assert monitor.watermark is None
    # still within the idle time of arrival: they still wait
    assert through_sources(monitor, [("in:0", ahead[250:300])], arrival_us=IDLE_US) == []
    # past it: in:1 stops counting and in:0's watermark closes every window it passed (closes at 110 s,
    # 210 s, 310 s, 410 s; the window of 400 s closes at 510 s)
    out = through_sources(monitor, [("in:0", ahead[300:])], arrival_us=IDLE_US + 1)
    assert starts(out) == [s * SIZE_S * US_PER_S for s in range(4)]
    assert monitor.watermark == 499 * US_PER_S
    # in:1 comes back behind the windows that closed: its event of 5 s is late; it counts again
    back = through_sources(monitor, [("in:1", [(5 * US_PER_S, "b"), (480 * US_PER_S, "b")])], IDLE_US + 2)
    assert [r.event_time_us for r in back if isinstance(r, LateEvent)] == [5 * US_PER_S]
    assert monitor.late_events == 1
    # and holds the windows back again: in:0 at 900 s closes nothing while in:1 stands at 480 s
    assert through_sources(monitor, [("in:0", [(900 * US_PER_S, "a")])], arrival_us=IDLE_US + 3) == []
    assert monitor.watermark == 499 * US_PER_S
    # until in:1 passes the window of 400 s's close
    out = through_sources(monitor, [("in:1", [(600 * US_PER_S, "b")])], arrival_us=IDLE_US + 4)
    assert starts(out) == [400 * US_PER_S]
    assert monitor.watermark == 600 * US_PER_S


def test_a_source_heard_from_then_quiet_is_dropped_from_the_minimum() -> None:
    monitor = new_monitor({})
    monitor.expect(["in:0", "in:1"], 0)
    through_sources(monitor, [("in:1", [(10 * US_PER_S, "b")])], arrival_us=0)
    late_arrival = 2 * IDLE_US
    out = through_sources(monitor, [("in:0", [(t * US_PER_S, "a") for t in range(300)])], late_arrival)
    assert monitor.watermark == 299 * US_PER_S  # in:1 (at 10 s) idle: not the minimum any more
    assert starts(out) == [0, 100 * US_PER_S]


SOURCE_TIMES = st.lists(st.integers(0, 600), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(SOURCE_TIMES, min_size=1, max_size=3),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=20),
    order=st.lists(st.integers(0, 2), max_size=200),
    size=st.integers(1, 40),
    window_kind=st.sampled_from(("tumbling", "hopping")),
)
def test_any_interleaving_of_ordered_sources_gives_the_in_order_windows(
    times: list[list[int]], kinds: list[str], order: list[int], size: int, window_kind: str
) -> None:
    streams = {
        f"s{n}": [(t * US_PER_S, kinds[(n + i) % len(kinds)]) for i, t in enumerate(sorted(ts))]
        for n, ts in enumerate(times)
    }
    # an arbitrary interleaving of runs of up to `size` events, each source's events in its order
    at = dict.fromkeys(streams, 0)
    names = list(streams)
    runs: list[tuple[str, list[Event]]] = []
    for pick in [*order, *range(len(names))] * (1 + sum(map(len, times))):
        source = names[pick % len(names)]
        if at[source] < len(streams[source]):
            runs.append((source, streams[source][at[source] : at[source] + size]))
            at[source] += size
    assert all(at[s] >= len(streams[s]) for s in streams)
    monitor = new_monitor({}, window_kind)
    monitor.expect(streams, 0)
    out = through_sources(monitor, runs)
    assert monitor.late_events == 0
    everything = [e for s in streams.values() for e in s]
    assert windows([*out, *monitor.flush()]) == in_order(everything, window_kind)


def test_progress_without_events_closes_the_windows_a_source_held_even_first_after_a_restart() -> None:
    """``advance``: a source says it passed a time without sending an event (the Kafka hops that forward
    every record); first after a restart, the window it closes is scored against the reference the state
    froze before it."""
    state: dict[str, Any] = {}
    monitor = new_monitor(state)
    monitor.expect(["in:0", "in:1"], 0)
    ahead = [(i * US_PER_S, KINDS[i % 3]) for i in range(0, 450, 2)]
    behind = [(i * US_PER_S, KINDS[i % 3]) for i in range(1, 250, 2)]
    out = through_sources(monitor, [("in:0", ahead), ("in:1", behind)])
    assert [(r.window_start_us, r.reference) for r in out if isinstance(r, DriftRecord)] == [
        (0, "building"),  # closed at 110 s and 210 s, in:1 at 249 s: they make the reference
        (100 * US_PER_S, "building"),
    ]
    restarted = new_monitor(state)
    restarted.from_source("in:1", 0)
    assert restarted.advance(300 * US_PER_S) == []  # the window of 200 s closes at 310 s
    restarted.from_source("in:1", 0)
    closed = restarted.advance(420 * US_PER_S)
    assert [(r.window_start_us, r.reference) for r in closed if isinstance(r, DriftRecord)] == [
        (200 * US_PER_S, "windows"),  # scored against the reference frozen before the restart
        (300 * US_PER_S, "windows"),
    ]
    assert restarted.watermark == 420 * US_PER_S and restarted.late_events == 0


def test_a_source_forwarding_to_a_later_hop_does_not_make_that_hop_idle() -> None:
    """``hop:0`` forwards its records to ``end:0`` (its progress only); ``end:0`` ends them, and is busy
    past the idle time while ``hop:0`` goes on. Its records are in flight at ``end:0``: the windows wait for
    it (late would be events the in-order run counts). A source that ends journeys does move the clock."""
    monitor = new_monitor({})
    monitor.from_source("end:0", 0)
    monitor.observe({"kinds": "a"}, 10 * US_PER_S)
    for t in range(1, 5):  # forwarded up to 999 s, arriving until 4 x the idle time
        monitor.from_source("hop:0", t * IDLE_US, forwarded=True)
        assert monitor.advance(999 * US_PER_S) == []
    assert monitor.watermark == 10 * US_PER_S
    monitor.from_source("end:0", 4 * IDLE_US)
    assert [r for r in through(monitor, 11, 500) if isinstance(r, LateEvent)] == []
    # a source that ended its journeys (not forwarded) 30 s after end:0's last message: end:0 is idle
    monitor.from_source("other:0", 5 * IDLE_US + 1)
    out = monitor.advance(999 * US_PER_S)
    assert monitor.watermark == 999 * US_PER_S and out  # min(hop:0, other:0): end:0 no longer counts


def through(monitor: DriftMonitor, first_s: int, last_s: int) -> list[DriftRecord | LateEvent]:
    out: list[DriftRecord | LateEvent] = []
    for t in range(first_s, last_s):
        out.extend(monitor.observe({"kinds": "a"}, t * US_PER_S))
    return out
