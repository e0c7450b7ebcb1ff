"""Efficiency records in the audit log: summaries read back, and feedback and calibration rows appended.

Feedback and calibrations are facts about the workflow, not steps of an event's journey, so each
workflow keeps them on chains of their own (``<workflow>.feedback``, ``<workflow>.calibration``),
hash-chained like every run and checked by ``dana-wf audit verify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY
from dana_workflows.processors.efficiency.records import FEEDBACK_KIND
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import OVERRIDE_KIND, AuditRow, AuditStore, sql_string

TABLE = "dwf.events"
CALIBRATION_KIND = "calibration"


def efficiency_rows(
    store: AuditStore, *, workflow: str | None = None, run: str | None = None, since_us: int | None = None
) -> Iterator[tuple[str, str, str]]:
    """(run_id, kind, details) of every row with an efficiency summary or a feedback verdict."""
    where = [
        f"(position(details, {sql_string(SUMMARY_KEY)}) > 0 "
        f"OR kind IN ({sql_string(FEEDBACK_KIND)}, {sql_string(OVERRIDE_KIND)}))"
    ]
    if workflow is not None:
        where.append(f"workflow = {sql_string(workflow)}")
    if run is not None:
        where.append(f"startsWith(run_id, {sql_string(run)})")
    if since_us is not None:
        where.append(f"ts_us >= {int(since_us)}")
    sql = f"SELECT run_id, kind, details FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY ts_us"
    for run_id, kind, details in store.query(sql).rows:
        yield str(run_id), str(kind), str(details)


def summaries(rows: Iterator[tuple[str, str, str]]) -> Iterator[dict[str, Any]]:
    for _, kind, details in rows:
        if kind in (FEEDBACK_KIND, OVERRIDE_KIND):
            continue
        value = json.loads(details).get(SUMMARY_KEY)
        if isinstance(value, dict):
            yield value


def append_row(
    store: AuditStore,
    workflow: str,
    version: int,
    chain: str,
    kind: str,
    step: str,
    details: dict[str, Any],
    ts_us: int,
    *,
    decision: str = "",
) -> AuditRow:
    """One row at the end of the chain ``chain`` (its next seq, linked to its last hash), stored."""
    last = store.query(
        f"SELECT seq, hash FROM {TABLE} WHERE workflow = {sql_string(workflow)} "
        f"AND run_id = {sql_string(chain)} ORDER BY seq DESC LIMIT 1"
    ).rows
    seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (0, GENESIS_HASH)
    env = Envelope(f"{chain}/{seq}", chain, workflow, version, step, {}, ts_us, 0, {}, seq, prev)
    row = transition(env, kind, step, ts_us, decision=decision, details=details)
    store.insert([row])
    return row
