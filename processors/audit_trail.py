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
    if rule_results_json is None:
        rule_results_json = canonical_json([r.to_record() for r in rule_results]) if rule_results else "[]"
    # positional: this runs ~7 times per event; the order is sinks.audit_model.COLUMNS
    row = AuditRow(
        env.workflow,
        env.workflow_version,
        env.run_id,
        env.chain_seq,
        env.event_id,
        step,
        kind,
        decision,
        reason,
        rule_results_json,
        attempt,
        duration_us,
        canonical_json(details) if details else "{}",
        ts_us,
        env.chain_hash,
    )
    row.hash = row_digest(row)
    env.chain_seq += 1
    env.chain_hash = row.hash
    return row
