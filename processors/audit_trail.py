"""Audit rows for transitions, chained per run through the envelope's chain_seq/chain_hash.

`transition` is a hand-written fast path (~7 rows an event): the row's slots set directly, and the hashed
content written as one f-string in place of a call of `sinks.audit_model.content_text` (-5.2k of 742k
instructions an event on the claims example, docs/performance.md, "Session 10: shared processing");
tests/unit/processors/test_audit_fastpath.py holds its rows and hashes to the plain definition. The digest
is schemas.sha256's: the C extension's SHA-256 (schemas/_sha256ni.c) where the CPU has the SHA extensions,
hashlib's elsewhere (~0.4-0.5 us less a row; "Session 12: shared processing").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from dana_workflows.processors.base import RuleResult
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.sha256 import JOINED_HEX, NATIVE_HEX
from dana_workflows.sinks.audit_model import AuditRow

_sha256 = hashlib.sha256
_new_row = AuditRow.__new__


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
    details_json: str | None = None,
) -> AuditRow:
    """One sealed audit row; advances the envelope's chain so the next row links to this one.

    ``rule_results_json``/``details_json``: the column already rendered (canonical JSON), in place
    of ``rule_results``/``details``.
    """
    if rule_results_json is None:
        rule_results_json = canonical_json([r.to_record() for r in rule_results]) if rule_results else "[]"
    if details_json is None:
        details_json = canonical_json(details) if details else "{}"
    workflow = env.workflow
    version = env.workflow_version
    run_id = env.run_id
    seq = env.chain_seq
    event_id = env.event_id
    prev_hash = env.chain_hash
    # row_digest from the values at hand, before the row exists (this runs ~7 times per event): the
    # f-string of sinks.audit_model.content_text written out here, which saves a 15-argument call per
    # row (tests/unit/processors/test_audit_fastpath.py holds the two to the same text)
    # With the C extension on a CPU with the SHA extensions (schemas/sha256.py), the columns are hashed as
    # they are, without writing their joined text; it answers None for a value it leaves to the f-string
    # below (a bool, a float, a lone surrogate), which is also the path without it.
    digest = (
        None
        if JOINED_HEX is None
        else JOINED_HEX(
            workflow, version, run_id, seq, event_id, step, kind, decision, reason, rule_results_json,
            attempt, duration_us, details_json, ts_us, prev_hash,
        )
    )  # fmt: skip
    if digest is None:
        content = (
            f"{workflow}\x1f{version!s}\x1f{run_id}\x1f{seq!s}\x1f{event_id}\x1f{step}\x1f{kind}\x1f"
            f"{decision}\x1f{reason}\x1f{rule_results_json}\x1f{attempt!s}\x1f{duration_us!s}\x1f"
            f"{details_json}\x1f{ts_us!s}\x1f{prev_hash}".encode()
        )
        digest = NATIVE_HEX(content) if NATIVE_HEX is not None else _sha256(content).hexdigest()
    env.chain_seq = seq + 1
    env.chain_hash = digest
    # Every field set directly: calling the dataclass __init__ (type_call -> slot_tp_init -> a
    # nested frame) costs more than the 16 slot stores. The test holds the fields to COLUMNS.
    row = _new_row(AuditRow)
    row.workflow = workflow
    row.workflow_version = version
    row.run_id = run_id
    row.seq = seq
    row.event_id = event_id
    row.step = step
    row.kind = kind
    row.decision = decision
    row.reason = reason
    row.rule_results = rule_results_json
    row.attempt = attempt
    row.duration_us = duration_us
    row.details = details_json
    row.ts_us = ts_us
    row.prev_hash = prev_hash
    row.hash = digest
    return row
