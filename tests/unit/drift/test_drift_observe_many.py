"""Counting a run of events at once (``observe_many``, the Kafka drift agent's per-message path) is counting
them one by one (``observe``, the local runtime's): the same records and late events after the same events,
the same state (window counts with their keys in the same order, the reference, the watermark), and on the
observer the same audit rows in the same chain order, events without a usable time included.

The spec is the per-event path: whatever the runs, the outputs must be its outputs.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.drift import DriftMonitor, DriftRecord, LateEvent
from dana_workflows.drift.observer import DriftObserver, DriftReport
from dana_workflows.drift.windows import US_PER_S
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, FieldIR, WindowIR, WorkflowIR

pytestmark = pytest.mark.unit

SIZE_S = 100
MONITORS = (
    # few categories per window: later keys go to <other>, decided when each first shows
    DriftMonitorIR(id="kind", field="kind", max_categories=3, reference_windows=2),
    # no bins: a sketch until the reference freezes, then folded windows
    DriftMonitorIR(id="x", field="x", feature="numeric", quantile_bins=3, reference_windows=1),
    DriftMonitorIR(id="d", field="d", feature="text", buckets=4, max_categories=3),
)
KINDS = st.sampled_from(["a", "b", "c", "d", "e", None, True, 1, 1.0])
NUMBERS = st.one_of(st.floats(-1e6, 1e6), st.integers(-5, 5), st.none(), st.just("x"))
TEXTS = st.one_of(st.sampled_from(["red car", "blue car hit", "tree", "", "the red tree fell"]), st.none())
VALUES = st.fixed_dictionaries({}, optional={"kind": KINDS, "x": NUMBERS, "d": TEXTS})
# event times in seconds, out of order enough for late events with 10 s of lateness
EVENTS = st.lists(st.tuples(VALUES, st.integers(0, 700)), max_size=60)


def drift_ir(kind: str) -> DriftIR:
    step = SIZE_S // 2 if kind == "hopping" else None
    window = WindowIR(kind=kind, size_s=SIZE_S, step_s=step, allowed_lateness_s=10)
    return DriftIR(window=window, monitors=MONITORS)


def runs_of(items: list[Any], cuts: list[int]) -> list[list[Any]]:
    bounds = sorted({c % (len(items) + 1) for c in cuts} | {0, len(items)})
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def as_stored(state: dict[str, Any]) -> dict[str, str]:
    """Each key's value as JSON in its own order (the keys of a window's counts in the order they came)."""
    return {key: json.dumps(value) for key, value in state.items()}


class Recorded(dict[str, Any]):
    """A state that notes the keys set (what a faust table's changelog is sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.set: set[str] = set()

    def __setitem__(self, key: str, value: Any) -> None:
        self.set.add(key)
        super().__setitem__(key, value)


@settings(max_examples=300, deadline=None)
@given(
    EVENTS,
    st.lists(st.integers(0, 60), max_size=6),
    st.sampled_from(["tumbling", "hopping"]),
    st.lists(st.sampled_from(["", "p:0", "p:1"]), min_size=7, max_size=7),
)
def test_a_run_at_once_is_each_event_in_turn(
    events: list[tuple[dict[str, Any], int]], cuts: list[int], kind: str, sources: list[str]
) -> None:
    """Runs from sources ("" none: one watermark), as the drift agent names each message's."""
    timed = [(values, t * US_PER_S) for values, t in events]
    one_state, run_state = Recorded(), Recorded()
    one = DriftMonitor("wf", drift_ir(kind), one_state, baselines={})
    many = DriftMonitor("wf", drift_ir(kind), run_state, baselines={})
    expected: list[tuple[int, list[DriftRecord | LateEvent]]] = []
    got: list[tuple[int, list[DriftRecord | LateEvent]]] = []
    offset = 0
    for n, run in enumerate(runs_of(timed, cuts)):
        if sources[n]:
            one.from_source(sources[n], n * US_PER_S)
            many.from_source(sources[n], n * US_PER_S)
        for i, (values, t) in enumerate(run):
            if out := one.observe(values, t):
                expected.append((offset + i, out))
        got.extend((offset + i, out) for i, out in many.observe_many(run))
        offset += len(run)
        assert run_state.set == one_state.set  # the run changed the same keys (the changelog's)
        run_state.set.clear()
        one_state.set.clear()

    assert got == expected
    assert as_stored(run_state) == as_stored(one_state)
    assert list(many.flush()) == list(one.flush())


def test_keys_past_the_cap_go_to_other_as_they_first_show_in_a_run() -> None:
    """A window takes 3 keys: in a run of b, a, b, c, d, e, a the 4th and 5th new keys (d, e) are <other>,
    the known ones counted (the order the keys came: b, a, c, then <other>)."""
    state: dict[str, Any] = {}
    monitor = DriftMonitor("wf", drift_ir("tumbling"), state, baselines={})
    assert monitor.observe_many([({"kind": k}, 5 * US_PER_S) for k in "babcdea"]) == []
    window = state["drift|w|kind|0"]
    assert window["n"] == 7
    assert list(window["c"].items()) == [("b", 2), ("a", 2), ("c", 1), ("<other>", 2)]


def test_the_event_that_closes_a_window_is_counted_in_its_own_window_first() -> None:
    """A run whose last event closes the first window: that window's record counts the run's events in it
    (they are counted into the state before it closes), the next window keeps the closing event."""
    monitor = DriftMonitor("wf", drift_ir("tumbling"), {}, baselines={})
    out = monitor.observe_many([({"kind": "a"}, 10 * US_PER_S), ({"kind": "b"}, 20 * US_PER_S),
                                ({"kind": "a"}, 150 * US_PER_S)])  # fmt: skip
    assert [i for i, _ in out] == [2]
    (record,) = [r for r in out[0][1] if isinstance(r, DriftRecord) and r.monitor == "kind"]
    assert (record.window_start_us, record.count) == (0, 2)


WORKFLOW = WorkflowIR(
    name="wf",
    input=(FieldIR(name="kind", type="string"),),
    steps=(),
    drift=DriftIR(
        window=WindowIR(kind="tumbling", size_s=SIZE_S, allowed_lateness_s=10, time_field="ts"),
        monitors=MONITORS,
    ),
)


def rows_of(reports: list[DriftReport]) -> list[tuple[Any, ...]]:
    return [row.as_tuple() for report in reports for row in report.rows]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(VALUES, st.one_of(st.integers(0, 700), st.none(), st.just("soon"))), max_size=40),
    st.lists(st.integers(0, 40), max_size=4),
)
def test_the_observer_gives_the_rows_of_each_event_in_turn(
    events: list[tuple[dict[str, Any], Any]], cuts: list[int]
) -> None:
    """Events without a usable time (None, text) are skipped with a row of the drift chain, in their place
    between the window rows of the events around them."""
    calls = [(values, {"ts": ts}, 1_000 + i, 7_000 + i) for i, (values, ts) in enumerate(events)]
    one = DriftObserver(WORKFLOW, {})
    expected = [report for call in calls if (report := one.observe(*call)).rows]
    many = DriftObserver(WORKFLOW, {})
    got = [report for run in runs_of(calls, cuts) for report in many.observe_many(run)]
    assert rows_of(got) == rows_of(expected)
    assert [(r.records, r.late, r.skipped) for r in got] == [(r.records, r.late, r.skipped) for r in expected]
    assert as_stored(many.state) == as_stored(one.state)  # type: ignore[arg-type]
