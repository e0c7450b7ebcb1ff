"""Recompute every run's hash chain and name each row that was changed, removed or reordered.

Duplicates (the same row delivered twice under at-least-once) are reported by event_id, apart
from tampering: they are expected after a crash, and the audit says so instead of hiding them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby

from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks.audit_model import AuditRow, row_digest


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # changed | removed | reordered | duplicate | forked
    run_id: str
    seq: int
    event_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: run {self.run_id} seq {self.seq} ({self.event_id}): {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    runs: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.kind != "duplicate" for f in self.findings)

    @property
    def duplicates(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "duplicate"]


def verify_rows(
    rows: Iterable[AuditRow], continued: Mapping[str, tuple[int, str]] | None = None
) -> VerifyReport:
    """Rows may come in any order; they are grouped by (workflow, run_id) and ordered by seq.

    `continued`: run id -> (seq, prev_hash) of the first of these rows, for a chain whose earlier rows are
    already stored and not among `rows` (a `dana-wf run` that continues the drift chain); every other
    chain must start at seq 0 from the genesis hash."""
    report = VerifyReport()
    starts = continued or {}
    ordered = sorted(rows, key=lambda r: (r.workflow, r.run_id, r.seq, r.hash))
    for _, group in groupby(ordered, key=lambda r: (r.workflow, r.run_id)):
        report.runs += 1
        chain = list(group)
        report.rows += len(chain)
        report.findings.extend(_verify_chain(chain, *starts.get(chain[0].run_id, (0, GENESIS_HASH))))
    return report


def _verify_chain(
    chain: list[AuditRow], first_seq: int = 0, first_link: str = GENESIS_HASH
) -> Iterator[Finding]:
    by_hash_seen: set[tuple[int, str]] = set()
    unique: list[AuditRow] = []
    for row in chain:
        key = (row.seq, row.hash)
        if key in by_hash_seen:
            yield Finding(
                "duplicate", row.run_id, row.seq, row.event_id, f"{row.kind} at {row.step} delivered again"
            )
            continue
        by_hash_seen.add(key)
        unique.append(row)
    prev_hash, expected_seq = first_link, first_seq
    prev_seq = first_seq - 1
    for row in unique:
        if row_digest(row) != row.hash:
            yield Finding(
                "changed",
                row.run_id,
                row.seq,
                row.event_id,
                f"{row.kind} at {row.step}: content does not match its hash",
            )
        if row.seq == prev_seq:
            yield Finding(
                "forked", row.run_id, row.seq, row.event_id, "two different rows claim this position"
            )
            continue
        if row.seq > expected_seq:
            yield Finding(
                "removed",
                row.run_id,
                expected_seq,
                row.event_id,
                f"rows {expected_seq}..{row.seq - 1} are missing before {row.kind} at {row.step}",
            )
        elif row.prev_hash != prev_hash:
            yield Finding(
                "reordered",
                row.run_id,
                row.seq,
                row.event_id,
                f"{row.kind} at {row.step} does not link to the row before it",
            )
        prev_hash, prev_seq, expected_seq = row.hash, row.seq, row.seq + 1
