"""What an event's audit chain says about it: where its chain ends, and whether a reviewer may decide it
or a dlq replay may run it again.

One rule for both runtimes (docs/review.md): an event has at most one terminal outcome after it was
reviewed or replayed. A review item is decided once (its ``override`` row ends the review); a dlq'd
event is replayed once (its ``replayed`` row is the claim), whatever the replay ends in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dana_workflows.processors.resume import OVERRIDE, REPLAYED
from dana_workflows.sinks.audit_model import AuditRow

DLQ_KIND = "dlq"
REVIEW_KIND = "review"  # an event sent to review (the recovery ladder's review rung)
TERMINAL_KINDS = frozenset({"completed", "rejected", DLQ_KIND})
# the rows that say where an event stands; every other row is a step of its journey
OUTCOME_KINDS = TERMINAL_KINDS | {REVIEW_KIND, OVERRIDE, REPLAYED}


@dataclass(frozen=True, slots=True)
class RunHistory:
    """The outcome rows of one event's chain, in chain order, and the chain's tail."""

    run_id: str
    tail: AuditRow  # the row the next one links to
    outcomes: tuple[AuditRow, ...]

    @property
    def last(self) -> AuditRow | None:
        return self.outcomes[-1] if self.outcomes else None

    def last_of(self, kind: str) -> AuditRow | None:
        return next((r for r in reversed(self.outcomes) if r.kind == kind), None)

    def after(self, row: AuditRow) -> list[AuditRow]:
        """The outcome rows that follow ``row`` on the chain."""
        return [r for r in self.outcomes if r.seq > row.seq]


def history_of(rows: Iterable[AuditRow]) -> RunHistory | None:
    """The history of one run's rows (any order; duplicate deliveries count once), None for no rows."""
    by_seq: dict[int, AuditRow] = {}
    for row in rows:
        by_seq.setdefault(row.seq, row)
    if not by_seq:
        return None
    ordered = [by_seq[s] for s in sorted(by_seq)]
    outcomes = tuple(r for r in ordered if r.kind in OUTCOME_KINDS)
    return RunHistory(ordered[-1].run_id, ordered[-1], outcomes)


def decision_of(history: RunHistory | None) -> AuditRow | None:
    """The override row that decided the event's last review, if one did."""
    review = history.last_of(REVIEW_KIND) if history is not None else None
    if history is None or review is None:
        return None
    return next((r for r in history.after(review) if r.kind == OVERRIDE), None)


def review_refusal(history: RunHistory | None, run_id: str) -> str | None:
    """Why the event cannot be decided now, or None when its review waits for a decision."""
    if history is None:
        return f"no event {run_id} in the audit log: check the id with dana-wf review list"
    if history.last_of(REVIEW_KIND) is None:
        return f"event {run_id} was never sent to review: nothing to decide"
    decided = decision_of(history)
    if decided is not None:
        return (
            f"event {run_id} was decided already ({decided.decision}, audit row {decided.seq}): "
            "a decision is final"
        )
    return None


def replay_refusal(history: RunHistory | None, run_id: str) -> str | None:
    """Why the event cannot be replayed, or None when its last outcome is an unreplayed dlq."""
    if history is None:
        return f"no event {run_id} in the audit log: check the id with dana-wf dlq list"
    replayed = history.last_of(REPLAYED)
    if replayed is not None:
        ended = [r for r in history.after(replayed) if r.kind in TERMINAL_KINDS]
        where = f"it ended in {ended[0].kind}" if ended else "it has not finished yet"
        return (
            f"event {run_id} was replayed already (audit row {replayed.seq}; {where}): "
            "an event is replayed once"
        )
    last = history.last
    if last is None or last.kind != DLQ_KIND:
        kind = last.kind if last is not None else "no outcome yet"
        return f"event {run_id} is not in the dlq (its last outcome: {kind})"
    return None
