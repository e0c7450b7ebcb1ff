"""How well each rung of the recovery ladders works, read back from the audit log (docs/recovery.md).

Every rung attempt is one `recovery` row (processors/executor.py): decision = the rung, details = the
error class and whether the attempt placed the event. Summed per workflow, step, error class and rung,
they say which strategy earns its cost: a retry that never succeeds on quota errors, a fallback model
that rescues most timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.processors.recovery import ERROR_CLASS_KEY, RUNGS
from dana_workflows.sinks.audit_model import AuditStore, events_table
from dana_workflows.sinks.audit_scope import AuditScope

RECOVERY_KIND = "recovery"


@dataclass(slots=True)
class RungFigures:
    attempts: int = 0
    successes: int = 0

    @property
    def rate(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


Key = tuple[str, str, str, str]  # workflow, step, error class, rung


@dataclass
class RecoveryReport:
    figures: dict[Key, RungFigures] = field(default_factory=dict)
    events: set[tuple[str, str, str]] = field(default_factory=set)  # (workflow, run, step) that failed

    def add(self, workflow: str, run_id: str, step: str, rung: str, details: dict[str, Any]) -> None:
        key = (workflow, step, str(details.get(ERROR_CLASS_KEY, "")), rung)
        figures = self.figures.setdefault(key, RungFigures())
        figures.attempts += 1
        figures.successes += details.get("succeeded") is True
        self.events.add((workflow, run_id, step))

    def rows(self) -> list[dict[str, Any]]:
        """One entry per (workflow, step, error class, rung), rungs in ladder order."""
        order = {rung: i for i, rung in enumerate(RUNGS)}
        keys = sorted(self.figures, key=lambda k: (k[0], k[1], k[2], order.get(k[3], len(order)), k[3]))
        return [
            {
                "workflow": k[0],
                "step": k[1],
                "error_class": k[2],
                "rung": k[3],
                "attempts": self.figures[k].attempts,
                "successes": self.figures[k].successes,
                "success_rate": round(self.figures[k].rate, 4),
            }
            for k in keys
        ]

    def to_json(self) -> dict[str, Any]:
        return {"events": len(self.events), "rungs": self.rows()}


def summarize(rows: Iterable[tuple[str, str, str, str, str]]) -> RecoveryReport:
    """(workflow, run_id, step, rung, details JSON) of each recovery row -> the report."""
    report = RecoveryReport()
    for workflow, run_id, step, rung, details in rows:
        report.add(workflow, run_id, step, rung, json.loads(details) if details else {})
    return report


def recovery_rows(store: AuditStore, scope: AuditScope) -> list[tuple[str, str, str, str, str]]:
    table = events_table(store)
    # DISTINCT with seq: a row delivered twice (docs/audit.md, duplicates) is one attempt, counted once
    sql = (
        f"SELECT DISTINCT workflow, run_id, seq, step, decision, details FROM {table} "
        f"WHERE kind = '{RECOVERY_KIND}' AND {scope.rows_where()}"
    )
    return [(str(w), str(r), str(s), str(d), str(x)) for w, r, _, s, d, x in store.query(sql).rows]
