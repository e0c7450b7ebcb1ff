"""Audit rows for transitions, chained per run through the envelope's chain_seq/chain_hash.

`transition` is a hand-written fast path (~7 rows an event): the row's slots set directly, and the hashed
content written as one f-string in place of a call of `sinks.audit_model.content_text` (-5.2k of 742k
instructions an event on the claims example, docs/performance.md, "Session 10: shared processing");
tests/unit/processors/test_audit_fastpath.py holds its rows and hashes to the plain definition. The digest
is schemas.sha256's: the C extension's SHA-256 (schemas/_sha256ni.c) where the CPU has the SHA extensions,
hashlib's elsewhere (~0.4-0.5 us less a row; "Session 12: shared processing"). Since session 15 the same
extension also makes the row around that digest (`sealed_row`: the object and its 16 slots in the hashing
call, ~0.15 us less a row), chosen at import only after it made the plain definition's rows (`choose_sealed`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from dana_workflows.processors.base import RuleResult
from dana_workflows.processors.rule_render import render_results
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.sha256 import JOINED_HEX, NATIVE_HEX
from dana_workflows.sinks.audit_model import COLUMNS, AuditRow, row_digest

log = logging.getLogger(__name__)
_sha256 = hashlib.sha256
_new_row = AuditRow.__new__

SealedRow = Callable[..., "AuditRow | None"]

# rows the sealing call must make exactly as the Python path makes them: ASCII and non-ASCII text, empty
# columns, ints at the int64 bounds, columns long enough to cross SHA-256 blocks
_SEAL_CHECKS: tuple[tuple[Any, ...], ...] = (
    ("claims", 1, "r-1", 0, "r-1/in", "in", "received", "", "", "[]", 0, 0, "{}", 0, ""),
    (
        "wf",
        2**63 - 1,
        "ü€😀",
        -(2**63),
        "e" * 70,
        "s",
        "k",
        "d",
        "x\x00y",
        "[1]",
        3,
        7,
        '{"a":1}',
        9,
        "h" * 64,
    ),
)


def _plain_row(parts: tuple[Any, ...]) -> AuditRow:
    """The plain definition: the dataclass, hashed by sinks.audit_model.row_digest."""
    row = AuditRow(*parts)
    row.hash = row_digest(row)
    return row


def choose_sealed(module: Any) -> SealedRow | None:
    """The extension's ``sealed_row`` bound to AuditRow, where it makes the plain definition's rows on every
    check (same class, same columns, same hash); else None, and ``transition`` stores the slots itself."""
    bind, sealed = getattr(module, "bind_row", None), getattr(module, "sealed_row", None)
    if bind is None or sealed is None:
        return None  # not built, or built without the SHA extensions: the Python path, nothing to say
    try:
        bind(AuditRow, COLUMNS)
        for parts in _SEAL_CHECKS:
            row = sealed(*parts)
            if row != _plain_row(parts):  # a dataclass: equal only to an AuditRow of equal columns
                raise ValueError(f"a different row for {parts[:3]}")
        if sealed(*_SEAL_CHECKS[0][:-1], True) is not None:  # a bool is the Python path's to write
            raise ValueError("a row for a bool column")
    except Exception as exc:  # a broken build must not stop the audit: the Python path is always right
        log.warning("sealed_row failed its check (%s): transition stores the row's slots itself", exc)
        return None
    found: SealedRow = sealed
    return found


def _sealed() -> SealedRow | None:
    if JOINED_HEX is None:  # no checked joined digest (no extension, another CPU, valgrind)
        return None
    try:
        from dana_workflows.schemas import _sha256ni
    except ImportError:  # pragma: no cover - JOINED_HEX comes from this module
        return None
    return choose_sealed(_sha256ni)


# sealed_row(*the 15 hashed columns): the row with its hash in one C call (schemas/_sha256ni.c), or None
# where the Python path below writes it; the whole function None without the extension's
SEALED_ROW: SealedRow | None = _sealed()


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
        rule_results_json = render_results(tuple(rule_results))
    if details_json is None:
        details_json = canonical_json(details) if details else "{}"
    workflow = env.workflow
    version = env.workflow_version
    run_id = env.run_id
    seq = env.chain_seq
    event_id = env.event_id
    prev_hash = env.chain_hash
    if SEALED_ROW is not None:  # the row and its digest in one C call (~0.15 us less a row)
        row = SEALED_ROW(
            workflow, version, run_id, seq, event_id, step, kind, decision, reason, rule_results_json,
            attempt, duration_us, details_json, ts_us, prev_hash,
        )  # fmt: skip
        if row is not None:
            env.chain_seq = seq + 1
            env.chain_hash = row.hash
            return row
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


def rejected(env: Envelope, step: str, ts_us: int, results: list[RuleResult]) -> tuple[AuditRow, list[str]]:
    """A schema check's reject (one home for ingest and a worker reading an event an older spec wrote):
    every result and the failed ones' reasons in the envelope's provenance, and the ``rejected`` row.
    Returns the row and the reasons."""
    reasons = [f"{r.rule_id}: {r.message}" for r in results if not r.passed]
    env.provenance["rule_results"] = [r.to_record() for r in results]
    env.provenance["reasons"] = reasons
    row = transition(
        env, "rejected", step, ts_us, decision="reject", reason="; ".join(reasons), rule_results=results
    )
    return row, reasons
