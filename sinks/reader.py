"""Read audit rows back from any store, as AuditRow objects, in chain order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dana_workflows.sinks.audit_model import AUDIT_TABLE, COLUMNS, AuditRow, AuditStore, store_database

_INT_COLUMNS = ("workflow_version", "seq", "attempt", "duration_us", "ts_us")


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_rows(
    store: AuditStore, workflow: str | None = None, run_id: str | None = None, database: str | None = None
) -> list[AuditRow]:
    db = database or store_database(store)
    where = ["1 = 1"]
    if workflow:
        where.append(f"workflow = {_literal(workflow)}")
    if run_id:
        where.append(f"run_id = {_literal(run_id)}")
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {db}.{AUDIT_TABLE} WHERE {' AND '.join(where)} "
        "ORDER BY workflow, run_id, seq, ts_us"
    )
    return [to_row(r) for r in store.query(sql).rows]


def to_row(values: Sequence[Any]) -> AuditRow:
    m = dict(zip(COLUMNS, values, strict=True))
    for k in _INT_COLUMNS:
        m[k] = int(m[k])
    return AuditRow.from_mapping(m)
