from __future__ import annotations

import dataclasses
import hashlib
import itertools

import pytest

from dana_workflows.processors.audit_trail import transition
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import FIELD_SEPARATOR, AuditRow, canonical_content, row_digest
from dana_workflows.sinks.verify import verify_rows

pytestmark = pytest.mark.unit


def chain(run: str, n: int) -> list[AuditRow]:
    env = Envelope(f"{run}/in", run, "w", 1, "in", {})
    return [transition(env, "emitted", f"s{i}", 1_000 + i, decision="pass") for i in range(n)]


def test_rows_link_by_hash_and_verify() -> None:
    rows = chain("r1", 4) + chain("r2", 3)
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows[:4]))
    report = verify_rows(reversed(rows))  # order of arrival does not matter
    assert report.ok and report.runs == 2 and report.rows == 7 and not report.findings


def test_hash_is_sha256_of_the_separated_columns() -> None:
    row = chain("r1", 1)[0]
    text = canonical_content(row)
    assert text.split(FIELD_SEPARATOR)[:3] == ["w", "1", "r1"]
    assert row.hash == hashlib.sha256(text.encode()).hexdigest() == row_digest(row)


def test_changed_row_is_named() -> None:
    rows = chain("r1", 4)
    rows[2] = dataclasses.replace(rows[2], decision="reject")
    report = verify_rows(rows)
    assert not report.ok
    assert [(f.kind, f.seq) for f in report.findings] == [("changed", 2)]


def test_removed_row_is_named() -> None:
    rows = chain("r1", 5)
    del rows[1]
    report = verify_rows(rows)
    assert [(f.kind, f.seq) for f in report.findings] == [("removed", 1)]


def test_removed_tail_cannot_hide_by_resealing_without_breaking_links() -> None:
    rows = chain("r1", 3)
    forged = dataclasses.replace(rows[1], reason="forged")
    forged.hash = row_digest(forged)  # resealed: its own hash is right, the next row no longer links
    report = verify_rows([rows[0], forged, rows[2]])
    assert [(f.kind, f.seq) for f in report.findings] == [("reordered", 2)]


def test_reordered_rows_are_named() -> None:
    rows = chain("r1", 3)
    a, b = rows[1], rows[2]
    swapped_a = dataclasses.replace(b, seq=1)
    swapped_b = dataclasses.replace(a, seq=2)
    report = verify_rows([rows[0], swapped_a, swapped_b])
    kinds = {f.kind for f in report.findings}
    assert "changed" in kinds and not report.ok


def test_duplicates_are_reported_but_do_not_break_the_chain() -> None:
    rows = chain("r1", 3)
    report = verify_rows([*rows, rows[1]])
    assert report.ok
    assert [(f.kind, f.event_id) for f in report.duplicates] == [("duplicate", "r1/in")]


def test_forked_position_is_named() -> None:
    rows = chain("r1", 2)
    other = chain("r1", 2)[1]
    other = dataclasses.replace(other, step="elsewhere")
    other.hash = row_digest(other)
    report = verify_rows([*rows, other])
    assert "forked" in {f.kind for f in report.findings}
