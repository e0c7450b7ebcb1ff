"""Mutation pass over session 17's lines of streams/kafka/drift_agent.py: a test for the mutant that survived.

At-least-once (the default) is deterministic: "rows must come out byte-identical the second time (same
hash), so the clock is the event's admission time" (streams/kafka/context.py). That holds for the drift
rows of windows that a hop's progress closes too (session 17's dwf-drift-progress header): the same
messages processed twice give the same audit rows, hashes included, and their times are event times, not
the wall clock's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime
from tests.unit.streams.test_drift_progress import message  # a drift-values message from a partition

pytestmark = pytest.mark.unit

US = 1_000_000
LAST_S = 1199  # the last event's time (s): partition 0's claims, one a second


async def drift_rows(tmp_path: Path) -> list[Any]:
    """Partition 0 ends every journey; partitions 1-3 forward all of theirs and send their progress only,
    which is what closes the windows partition 0 passed (closing each after its batch)."""
    runtime, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    assert runtime.context.deterministic  # the default, at-least-once
    offset = 0
    for b in range(6):
        chunk = [("abc"[i % 3], i) for i in range(b * 200, (b + 1) * 200)]
        await agent._each([message(agent, 0, chunk, None, offset)])
        for p in (1, 2, 3):
            offset += 1
            await agent._each([message(agent, p, [], (b + 1) * 200 - 1, offset)])
        offset += 1
    return [row for kind, row in committer.sent if kind == "audit" and row.kind == "drift"]


async def test_rows_of_windows_closed_by_progress_are_the_same_the_second_time(tmp_path: Path) -> None:
    first = await drift_rows(tmp_path / "a")
    again = await drift_rows(tmp_path / "b")
    assert len(first) >= 5  # windows of 0 s ... 1000 s closed as the forwarding partitions progressed
    assert [r.as_tuple() for r in again] == [r.as_tuple() for r in first]
    assert all(0 <= r.ts_us <= LAST_S * US for r in first), [r.ts_us for r in first]  # event times
