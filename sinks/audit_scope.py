"""Which part of the audit log a report covers: one run, or a period (optionally one workflow).

A period is half-open, ``since <= ts_us < until``, so consecutive periods never count a row twice. The
SQL it writes uses only functions ClickHouse 18.16 already has (the oldest server docs/audit.md supports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dana_workflows.sinks.audit_model import sql_string


def utc_text(ts_us: int) -> str:
    """A time in the audit's unit (µs since the epoch) as an auditor reads it."""
    return datetime.fromtimestamp(ts_us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


@dataclass(frozen=True)
class AuditScope:
    run_id: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    workflow: str | None = None

    def rows_where(self) -> str:
        """The rows in scope: a run's rows, or the rows written in the period."""
        where = ["1 = 1"]
        if self.workflow:
            where.append(f"workflow = {sql_string(self.workflow)}")
        if self.run_id:
            where.append(f"run_id = {sql_string(self.run_id)}")
        if self.since_us is not None:
            where.append(f"ts_us >= {int(self.since_us)}")
        if self.until_us is not None:
            where.append(f"ts_us < {int(self.until_us)}")
        return " AND ".join(where)

    def runs_where(self, table: str) -> str:
        """Every row of each run that has a row in scope: a run that crosses the period's edge is read
        whole, so its hash chain can be verified from seq 0."""
        return (
            f"(workflow, run_id) IN (SELECT DISTINCT workflow, run_id FROM {table} WHERE {self.rows_where()})"
        )

    def describe(self) -> str:
        if self.run_id:
            return f"run {self.run_id}"
        since = utc_text(self.since_us) if self.since_us is not None else "the first row"
        until = utc_text(self.until_us) if self.until_us is not None else "now"
        flow = f", workflow {self.workflow}" if self.workflow else ""
        return f"period {since} to {until} (end excluded){flow}"
