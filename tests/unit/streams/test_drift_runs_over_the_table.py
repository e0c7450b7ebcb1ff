"""Counting a drift-values message's events as one run (``DriftMonitor.observe_many``, the drift agent's path)
over the faust-table-backed state the agent uses (``TableState``: changes buffered per message, sent to the
changelog at the section's end), against ``observe`` per event over a plain dict (the local runtime's path,
the spec):

* the records and late events of each event, with several sources named as the agent names them (expected
  sources, sources that go idle for ``idle_us`` of arrival time, messages that forwarded records), and
  empty messages (a progress-only message has no events);
* a worker restarted from the changelog, whose messages inside a section come in any order (each key once
  a section, review of bb3f359): it carries on with the same records and ends with the same state;
* a run that raises half-way: the agent discards the message's changes (``TableState.discard``) and the
  tracker is back on the table, so the table is as before the message and the next message counts as if
  the raising one never came.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.drift import DriftMonitor, DriftRecord, LateEvent
from dana_workflows.drift.windows import US_PER_S
from dana_workflows.streams.kafka.table_state import TableState
from tests.unit.drift.test_drift_observe_many import VALUES, drift_ir
from tests.unit.streams.test_table_state_and_wire_helpers import FakeTable, RecordingSection

pytestmark = pytest.mark.unit

SOURCES = ("p:0", "p:1", "p:2")
# a message: its source, the seconds of arrival since the last one (idleness is 30 s), forwarded, its events
MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(SOURCES),
        st.integers(0, 45),
        st.booleans(),
        st.lists(st.tuples(VALUES, st.integers(0, 700)), max_size=12),
    ),
    max_size=10,
)

Out = list[tuple[int, list[DriftRecord | LateEvent]]]


def as_json(state: Any) -> dict[str, Any]:
    """Each key's value as the changelog holds it (JSON, keys sorted): what a restart reads back."""
    return {key: json.loads(json.dumps(state[key], sort_keys=True)) for key in state}


def flushed(state: TableState) -> list[tuple[str, bytes, bytes | None]]:
    section = RecordingSection()
    asyncio.run(state.flush(section))
    return section.sent


@settings(max_examples=150, deadline=None)
@given(MESSAGES, st.sampled_from(["tumbling", "hopping"]), st.integers(0, 10), st.randoms())
def test_runs_over_the_table_restarted_from_the_changelog_are_each_event_over_a_dict(
    messages: list[tuple[str, int, bool, list[tuple[dict[str, Any], int]]]],
    kind: str,
    restart_at: int,
    rnd: Any,
) -> None:
    plain: dict[str, Any] = {}
    one = DriftMonitor("wf", drift_ir(kind), plain, baselines={})
    table = FakeTable({})
    state = TableState(table)
    many = DriftMonitor("wf", drift_ir(kind), state, baselines={})
    changelog: list[tuple[str, bytes, bytes | None]] = []
    arrival = 0
    for monitor in (one, many):
        monitor.expect(SOURCES, arrival)
    changelog += flushed(state)
    for n, (source, gap_s, forwarded, events) in enumerate(messages):
        if n == restart_at:  # killed after the last section: the table comes back from the changelog
            replayed: dict[bytes, bytes] = {}
            for _, key, value in changelog:
                if value is None:
                    replayed.pop(key, None)
                else:
                    replayed[key] = value
            table = FakeTable(replayed)
            state = TableState(table)
            many = DriftMonitor("wf", drift_ir(kind), state, baselines={})
            for monitor in (one, many):  # the restarted agent tells the hop sources again
                monitor.expect(SOURCES, arrival)
            changelog += flushed(state)
        arrival += gap_s * US_PER_S
        timed = [(values, t * US_PER_S) for values, t in events]
        for monitor in (one, many):
            monitor.from_source(source, arrival, forwarded)
        expected: Out = [(i, out) for i, (values, t) in enumerate(timed) if (out := one.observe(values, t))]
        assert many.observe_many(timed) == expected
        section = flushed(state)
        assert len({key for _, key, _ in section}) == len(section)  # each key once a section
        rnd.shuffle(section)  # the order inside a section is no promise
        changelog += section
    assert as_json(state) == as_json(plain)
    assert many.late_events == one.late_events
    assert list(many.flush()) == list(one.flush())


class Unkeyable:
    """A value whose category key cannot be made (its text raises): the event raises half-way."""

    def __str__(self) -> str:
        raise RuntimeError("no text for this value")


def test_a_run_that_raises_is_discarded_and_the_next_counts_as_if_it_never_came() -> None:
    """The raising message closes a window (into the reference, not yet frozen: a frozen reference is kept
    by the monitor itself, which the agent drops with the worker it stops, agent_loop.py) and moves the
    watermark before its last event raises; the agent discards its changes. The table is then as before it,
    the tracker reads the table again (an event at 90 s is in time again), and the next message gives what
    it gives when the raising one never came."""
    table = FakeTable({})
    state = TableState(table)
    many = DriftMonitor("wf", drift_ir("tumbling"), state, baselines={})
    plain: dict[str, Any] = {}
    one = DriftMonitor("wf", drift_ir("tumbling"), plain, baselines={})
    first = [({"kind": "a"}, 10 * US_PER_S), ({"kind": "b"}, 50 * US_PER_S)]
    for monitor in (one, many):
        monitor.observe_many(first)
    flushed(state)
    before = dict(table.data)
    # the third event closes the window the second's value is in: counting it raises inside the run
    raising = [({"kind": "c"}, 130 * US_PER_S), ({"kind": Unkeyable()}, 135 * US_PER_S), ({}, 250 * US_PER_S)]
    with pytest.raises(RuntimeError, match="no text"):
        many.observe_many(raising)
    state.discard()  # the drift agent's except path
    assert table.data == before
    after = [({"kind": "e"}, 90 * US_PER_S), ({"kind": "a"}, 230 * US_PER_S)]
    assert many.observe_many(after) == one.observe_many(after)
    flushed(state)
    assert as_json(state) == as_json(plain)
    assert many.watermark == one.watermark == 230 * US_PER_S
