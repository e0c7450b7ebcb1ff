"""What an event's chain allows (processors/run_history.py): a review is decided once, a dlq'd event is
replayed once, whatever its replay ended in (the issue's "never a second terminal outcome")."""

from __future__ import annotations

import pytest

from dana_workflows.processors.run_history import decision_of, history_of, replay_refusal, review_refusal
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit


def chain(*kinds: str) -> list[AuditRow]:
    return [
        AuditRow("wf", 1, "r1", seq, f"r1/{seq}", "s", kind, hash=f"h{seq}") for seq, kind in enumerate(kinds)
    ]


def test_history_orders_by_seq_keeps_outcomes_and_the_tail() -> None:
    rows = chain("received", "emitted", "error", "dlq")
    h = history_of([rows[3], rows[0], rows[2], rows[1], rows[3]])  # any order, a duplicate delivery
    assert h is not None
    assert [r.kind for r in h.outcomes] == ["dlq"]
    assert (h.tail.seq, h.tail.hash) == (3, "h3")
    assert history_of([]) is None


def test_replay_refusals() -> None:
    assert replay_refusal(history_of(chain("received", "dlq")), "r1") is None
    assert "no event r1" in (replay_refusal(None, "r1") or "")
    assert "not in the dlq (its last outcome: completed)" in (
        replay_refusal(history_of(chain("received", "completed")), "r1") or ""
    )
    assert "no outcome yet" in (replay_refusal(history_of(chain("received")), "r1") or "")
    finished = replay_refusal(history_of(chain("received", "dlq", "replayed", "emitted", "completed")), "r1")
    assert "replayed already (audit row 2; it ended in completed)" in (finished or "")
    # a replay that ended in dlq again is not replayed a second time
    again = replay_refusal(history_of(chain("received", "dlq", "replayed", "dlq")), "r1")
    assert "it ended in dlq" in (again or "")
    in_flight = replay_refusal(history_of(chain("received", "dlq", "replayed")), "r1")
    assert "has not finished yet" in (in_flight or "")


def test_review_refusals() -> None:
    assert review_refusal(history_of(chain("received", "review")), "r1") is None
    assert "no event r1" in (review_refusal(None, "r1") or "")
    assert "never sent to review" in (review_refusal(history_of(chain("received", "completed")), "r1") or "")
    decided = review_refusal(history_of(chain("received", "review", "override", "completed")), "r1")
    assert "decided already" in (decided or "")
    assert decision_of(history_of(chain("received", "review", "override", "completed"))) is not None
    assert decision_of(history_of(chain("received", "review"))) is None
    assert decision_of(None) is None
