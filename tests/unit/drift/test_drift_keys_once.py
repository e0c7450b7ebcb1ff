"""An event's value is keyed once, however many windows it counts in (review of bb3f359): a hopping window's
event is in size/step windows, and keying is the costly part of counting (a text value's hashed tokens, a
numeric bin). bb3f359's ``_Watch.count`` made the key per window, so the local runtime's ``observe`` keyed
a hopping event's value once per window (+20% instructions an event for the claims' monitors with 4
windows an event, docs/performance.md, session 18, the review). The counts themselves are unchanged (the
other tests of drift hold them to the spec); here: the number of keyings.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.drift import DriftMonitor
from dana_workflows.drift.features import HashedTokens
from dana_workflows.drift.windows import US_PER_S
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

pytestmark = pytest.mark.unit

HOPPING = WindowIR(kind="hopping", size_s=400, step_s=100)  # 4 windows an event


def keyed_calls(monitor_ir: DriftMonitorIR, values: list[Any], monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times observe keys the events' values (the text's tokens, or the watch's key function)."""
    calls = 0
    drift = DriftIR(window=HOPPING, monitors=(monitor_ir,))
    monitor = DriftMonitor("wf", drift, {}, baselines={})
    (watch,) = monitor._watches
    if monitor_ir.feature == "text":
        real_keys = HashedTokens.keys

        def counted_keys(self: HashedTokens, value: Any) -> tuple[str, ...]:
            nonlocal calls
            calls += 1
            return real_keys(self, value)

        monkeypatch.setattr(HashedTokens, "keys", counted_keys)
    else:
        real_key = watch._key
        assert real_key is not None

        def counted_key(value: Any) -> str:
            nonlocal calls
            calls += 1
            return real_key(value)

        watch._key = counted_key
    for i, value in enumerate(values):
        monitor.observe({monitor_ir.id: value}, (1_000 + i) * US_PER_S)
    return calls


@pytest.mark.parametrize(
    "monitor_ir",
    [
        DriftMonitorIR(id="kind", field="kind"),
        DriftMonitorIR(id="x", field="x", feature="numeric", bins=(1.0, 2.0)),
        DriftMonitorIR(id="d", field="d", feature="text", buckets=8),
    ],
    ids=["categorical", "numeric", "text"],
)
def test_a_hopping_event_is_keyed_once_for_its_four_windows(
    monitor_ir: DriftMonitorIR, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {"kind": ["a", "b", "c"], "x": [0.5, 1.5, 7.0], "d": ["red car", "blue tree", "car"]}[
        monitor_ir.id
    ]
    assert keyed_calls(monitor_ir, values, monkeypatch) == 3
