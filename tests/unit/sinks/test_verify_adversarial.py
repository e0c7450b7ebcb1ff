"""Adversarial audit verification: an attacker who can insert rows and recompute SHA-256 (the formula is
public, docs/audit.md), checked by both verifiers, the Python one and the plain SQL one.

Every forged chain here is *consistently sealed*: each row's hash matches its content, so only the links
and positions can give it away. The expected findings are written from the rules of docs/audit.md
("The hash chain"), not read from the verifier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks.audit_model import AuditRow, seal
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.reader import read_rows
from dana_workflows.sinks.sql_verify import sql_chain_findings
from dana_workflows.sinks.verify import Finding, verify_rows

pytestmark = pytest.mark.unit

FORGED_LINK = "f" * 64


def run_rows(run_id: str, n: int = 5, first_link: str = GENESIS_HASH) -> list[AuditRow]:
    """A run of n rows sealed in order, the first linking to `first_link`."""
    rows: list[AuditRow] = []
    prev = first_link
    for seq in range(n):
        row = AuditRow("claims-triage", 3, run_id, seq, f"{run_id}/s{seq}", f"s{seq}", "emitted", "pass")
        row.ts_us = 1_767_225_600_000_000 + seq
        prev = seal(row, prev).hash
        rows.append(row)
    return rows


def reseal_from(rows: list[AuditRow], start: int) -> list[AuditRow]:
    """What a careful forger does after editing row `start`: recompute it and every later hash in order."""
    out = [dataclasses.replace(r) for r in rows]
    prev = out[start - 1].hash if start else out[0].prev_hash
    for row in out[start:]:
        prev = seal(row, prev).hash
    return out


def keys(findings: list[Finding]) -> list[tuple[str, int]]:
    return sorted((f.kind, f.seq) for f in findings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbAuditStore]:
    s = ChdbAuditStore(tmp_path / "audit")
    try:
        yield s
    finally:
        s.close()


def both(store: ChdbAuditStore, rows: list[AuditRow]) -> list[tuple[str, int]]:
    """The findings of the Python verifier, asserted equal to those of the SQL check on the same rows."""
    in_python = keys(verify_rows(rows).findings)
    store.insert(rows)
    assert keys(sql_chain_findings(store)) == in_python
    assert keys(verify_rows(read_rows(store)).findings) == in_python
    return in_python


def test_a_run_whose_first_row_links_to_a_forged_hash_is_named(store: ChdbAuditStore) -> None:
    """Row 0 must link to 64 zeros. A forged history sealed from another link verifies row by row; only the
    genesis link shows it."""
    forged = run_rows("forged", first_link=FORGED_LINK)
    assert both(store, forged) == [("reordered", 0)]
    assert not verify_rows(forged).ok


def test_two_rows_swapped_and_resealed_break_the_links(store: ChdbAuditStore) -> None:
    """Rows 1 and 2 exchange places, each resealed at its new position but keeping its old link."""
    rows = run_rows("swapped")
    a, b = rows[1], rows[2]
    moved_b = seal(dataclasses.replace(b, seq=1), b.prev_hash)  # links to row 1's hash, not row 0's
    moved_a = seal(dataclasses.replace(a, seq=2), a.prev_hash)  # links to row 0's hash, not row 1's
    # position 1 links to the old row 1 (not row 0); position 2 links to row 0 (not the new row 1);
    # position 3 links to the old row 2 (not the new row 2)
    assert both(store, [rows[0], moved_b, moved_a, *rows[3:]]) == [
        ("reordered", 1),
        ("reordered", 2),
        ("reordered", 3),
    ]


def test_a_fork_linked_like_the_original_is_named(store: ChdbAuditStore) -> None:
    """A second, different row at position 2, correctly linked to row 1 and sealed: two rows claim it."""
    rows = run_rows("fork")
    rival = seal(dataclasses.replace(rows[2], decision="reject", kind="rejected"), rows[1].hash)
    assert rival.hash != rows[2].hash
    findings = both(store, [*rows, rival])
    assert ("forked", 2) in findings
    assert not verify_rows([*rows, rival]).ok


def test_a_consistently_rewritten_tail_verifies_a_known_limit(store: ChdbAuditStore) -> None:
    """Row 2 edited and every row from it on resealed in order, the old rows deleted: each hash matches and
    each link holds, so the chain is whole. The chain proves integrity relative to itself; only a run's
    last hash kept outside the log (a checkpoint) would show the rewrite. Named in docs/audit.md."""
    rows = run_rows("tail")
    edited = reseal_from([*rows[:2], dataclasses.replace(rows[2], decision="reject"), *rows[3:]], 2)
    assert edited[2].hash != rows[2].hash and edited[2].prev_hash == rows[1].hash
    assert both(store, edited) == []


def test_a_cut_tail_verifies_a_known_limit_until_checkpoints_exist(store: ChdbAuditStore) -> None:
    """Deleting the last rows of a run leaves a shorter chain that is whole: nothing links to what was
    cut. docs/testing.md and docs/audit.md name this limit; a checkpoint of each run's last (seq, hash)
    stored elsewhere would catch it."""
    rows = run_rows("cut", n=6)
    assert both(store, rows[:4]) == []
    assert verify_rows(rows[:4]).ok


def test_deleting_a_middle_row_is_named_even_when_later_rows_are_renumbered(store: ChdbAuditStore) -> None:
    """Row 2 deleted, rows 3.. moved down one position and resealed: the positions close up, but the
    moved row 3 still links to the deleted row's hash."""
    rows = run_rows("renumbered", n=5)
    moved = [seal(dataclasses.replace(r, seq=r.seq - 1), r.prev_hash) for r in rows[3:]]
    assert both(store, [rows[0], rows[1], *moved]) == [("reordered", 2), ("reordered", 3)]
