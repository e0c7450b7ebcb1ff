"""`run()` of the Python API (streams/embedded.py) takes mappings or JSON lines; an event that can be neither
is named by its position (NEWCOMER2 P1, /tmp/newcomer2/FINDINGS.md)."""

from __future__ import annotations

import datetime

import pytest

from dana_workflows.streams.embedded import event_lines

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (None, "event 2: a mapping or a JSON line is expected, got NoneType"),
        (
            {"qty": 1, "day": datetime.date(2026, 12, 7)},
            "event 2: Object of type date is not JSON serializable",
        ),
    ],
)
def test_run_names_the_event_that_cannot_be_a_json_line(bad: object, says: str) -> None:
    # P1: `run(wf, [..., None])` raised "'NoneType' object is not iterable" and a date json.encoder's message,
    # neither naming the event
    with pytest.raises(TypeError) as info:
        event_lines([{"qty": 1}, bad])  # type: ignore[list-item]
    assert str(info.value).startswith(says)
    assert event_lines([{"qty": 1}, '{"qty": 2}']) == ['{"qty": 1}', '{"qty": 2}']
