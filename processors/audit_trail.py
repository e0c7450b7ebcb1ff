"""Audit rows for transitions, chained per run through the envelope's chain_seq/chain_hash."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from processors.base import RuleResult
from schemas.canonical import canonical_json
from schemas.envelope import Envelope
from sinks.audit_model import AuditRow, row_digest


def transition(
    env: Envelope,
    kind: str,
    step: str,
    ts_us: int,
    *,
    decision: str = "",
    reason: str = "",
    rule_results: Iterable[RuleResult] = (),
    rule_results_json: str | None = None,
    attempt: int = 0,
    duration_us: int = 0,
    details: dict[str, Any] | None = None,
) -> AuditRow:
    """One sealed audit row; advances the envelope's chain so the next row links to this one."""
    row = AuditRow(
        workflow=env.workflow,
        workflow_version=env.workflow_version,
        run_id=env.run_id,
        seq=env.chain_seq,
        event_id=env.event_id,
        step=step,
        kind=kind,
        decision=decision,
        reason=reason,
        rule_results=rule_results_json
        if rule_results_json is not None
        else canonical_json([r.to_record() for r in rule_results]),
        attempt=attempt,
        duration_us=duration_us,
        details=canonical_json(details or {}),
        ts_us=ts_us,
        prev_hash=env.chain_hash,
    )
    row.hash = row_digest(row)
    env.chain_seq += 1
    env.chain_hash = row.hash
    return row
