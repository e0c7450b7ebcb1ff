"""`dana-wf status`'s note on outcomes beyond the events (session 16, newcomer review F23), at its edge:
lines `produce` could not admit are decided by the producer and never reach the entry topic, so even
one outcome more than the events received is said, and as many as there are (mutation pass, session 17).
"""

from __future__ import annotations

import pytest

from dana_workflows.streams.status import PartitionLag, WorkflowStatus
from tests.unit.cli.test_mut9_status import Broker, env, run

pytestmark = pytest.mark.unit

__all__ = ["env"]  # the fixture, used by name


def test_one_outcome_more_than_the_events_is_said(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    entry = "pp.claims-triage.in"
    decided = {"out": 10, "rejected": 1}  # one line produce could not admit, rejected by the producer
    broker = Broker(WorkflowStatus("g", entry, [PartitionLag(entry, 0, 10, 10, 0)], decided, received=10))
    code, out = run(monkeypatch, broker)
    assert code == 0
    assert f"10 events on {entry}, 11 outcomes (1 more outcomes than events:" in out


@pytest.mark.parametrize("decided", [3, 10])
def test_no_more_outcomes_than_events_say_nothing_of_produce(
    monkeypatch: pytest.MonkeyPatch, env: None, decided: int
) -> None:
    entry = "pp.claims-triage.in"
    lag = PartitionLag(entry, 0, decided, 10, 10 - decided)
    broker = Broker(WorkflowStatus("g", entry, [lag], {"out": decided}, received=10))
    code, out = run(monkeypatch, broker)
    assert code == 0
    assert "more outcomes than events" not in out
    assert f"10 events on {entry}, {decided} outcomes;" in out
