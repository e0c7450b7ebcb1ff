"""The plain-SQL chain check on the embedded store: silent on an honest log, and naming exactly what
dana_workflows.sinks.verify.verify_rows names when rows are edited, deleted, forged, swapped or replayed.

Tampering goes through a raw chdb session, as an attacker with file access would: the store itself refuses
every write but INSERT.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks.audit_model import AuditRow, canonical_content, row_digest, seal
from dana_workflows.sinks.chdb_store import AuditStoreError, ChdbAuditStore
from dana_workflows.sinks.reader import read_rows
from dana_workflows.sinks.sql_verify import CHECKS, canonical_content_sql, sql_chain_findings
from dana_workflows.sinks.verify import Finding, verify_rows

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit.md"
KINDS = ("received", "emitted", "emitted", "routed", "emitted", "completed")
STEPS = ("ingest", "ingest", "normalize", "triage", "enforce_objective", "out")


def chain(run_id: str, n: int = 6, workflow: str = "claims-triage") -> list[AuditRow]:
    """A sealed run the way the processors write it: genesis prev_hash, seq from 0, text with odd bytes."""
    rows: list[AuditRow] = []
    prev = GENESIS_HASH
    for seq in range(n):
        row = AuditRow(
            workflow=workflow,
            workflow_version=3,
            run_id=run_id,
            seq=seq,
            event_id=f"{run_id}/{STEPS[seq % 6]}",
            step=STEPS[seq % 6],
            kind=KINDS[seq % 6],
            decision="auto_pay" if KINDS[seq % 6] == "routed" else "pass",
            reason='l\'assuré a dit "non"\ttab\\slash €' if seq == 2 else "",
            rule_results='[{"message":"","passed":true,"rule_id":"positive_amount"}]',
            attempt=seq % 2,
            duration_us=100 + seq,
            details='{"ordinal":7}',
            ts_us=1_767_225_600_000_000 + seq * 1000,
        )
        prev = seal(row, prev).hash
        rows.append(row)
    return rows


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbAuditStore]:
    s = ChdbAuditStore(tmp_path / "audit")
    s.insert([r for run in ("run-a", "run-b", "run-c") for r in chain(run)])
    try:
        yield s
    finally:
        s.close()


def tamper(store: ChdbAuditStore, statement: str) -> None:
    """Change the table behind the store's back (same directory, a second raw session)."""
    from chdb import session

    raw = session.Session(str(store.path))  # type: ignore[no-untyped-call]
    try:
        raw.query(f"{statement} SETTINGS mutations_sync = 1")
    finally:
        raw.close()


def keys(findings: list[Finding]) -> list[tuple[str, str, int, str]]:
    return sorted((f.kind, f.run_id, f.seq, f.event_id) for f in findings)


def both(store: ChdbAuditStore) -> list[tuple[str, str, int, str]]:
    """What the SQL check finds, asserted equal to what the Python verifier finds."""
    in_sql = keys(sql_chain_findings(store))
    assert in_sql == keys(verify_rows(read_rows(store)).findings)
    return in_sql


def test_the_sql_content_is_the_python_canonical_content(store: ChdbAuditStore) -> None:
    rows = store.query(
        f"SELECT run_id, seq, {canonical_content_sql()} AS content, lower(hex(SHA256(content))) AS digest "
        "FROM dwf.events ORDER BY run_id, seq"
    ).rows
    expected = sorted(chain("run-a") + chain("run-b") + chain("run-c"), key=lambda r: (r.run_id, r.seq))
    assert [(r[2], r[3]) for r in rows] == [(canonical_content(e), row_digest(e)) for e in expected]


def test_an_honest_log_has_no_findings(store: ChdbAuditStore) -> None:
    assert both(store) == []


def test_an_edited_row_is_named_changed(store: ChdbAuditStore) -> None:
    tamper(store, "ALTER TABLE dwf.events UPDATE decision = 'review' WHERE run_id = 'run-b' AND seq = 3")
    assert both(store) == [("changed", "run-b", 3, "run-b/triage")]


def test_an_edited_and_rehashed_row_breaks_the_next_link(store: ChdbAuditStore) -> None:
    forged = chain("run-b")[3]
    forged.decision = "review"
    new_hash = row_digest(forged)
    tamper(
        store,
        f"ALTER TABLE dwf.events UPDATE decision = 'review', hash = '{new_hash}' "
        "WHERE run_id = 'run-b' AND seq = 3",
    )
    assert both(store) == [("reordered", "run-b", 4, "run-b/enforce_objective")]


def test_a_deleted_row_is_named_removed(store: ChdbAuditStore) -> None:
    tamper(store, "ALTER TABLE dwf.events DELETE WHERE run_id = 'run-c' AND seq IN (2, 3)")
    findings = sql_chain_findings(store)
    assert both(store) == [("removed", "run-c", 2, "run-c/enforce_objective")]
    assert findings[0].detail == "rows 2..3 are missing before seq 4"


def test_swapped_rows_are_named_reordered(store: ChdbAuditStore) -> None:
    """An attacker who swaps two rows and reseals each one still cannot fake the links."""
    run = chain("run-d")
    run[1], run[2] = run[2], run[1]
    for seq, row in enumerate(run):
        row.seq = seq
        row.hash = row_digest(row)
    store.insert(run)
    assert both(store) == [
        ("reordered", "run-d", 1, "run-d/normalize"),
        ("reordered", "run-d", 2, "run-d/ingest"),
        ("reordered", "run-d", 3, "run-d/triage"),
    ]


def test_a_second_row_at_a_position_is_named_forked(store: ChdbAuditStore) -> None:
    forged = chain("run-a")[4]
    forged.decision = "reject"
    forged.hash = row_digest(forged)
    store.insert([forged])
    found = both(store)
    kept = min(forged.hash, chain("run-a")[4].hash)
    assert ("forked", "run-a", 4, "run-a/enforce_objective") in found
    # the next row links to the original; if the forgery sorts first it stands for the position
    assert found == [("forked", "run-a", 4, "run-a/enforce_objective")] + (
        [("reordered", "run-a", 5, "run-a/out")] if kept == forged.hash else []
    )


def test_replayed_rows_are_duplicates_not_tampering(store: ChdbAuditStore) -> None:
    run = chain("run-a")
    store.insert(run[2:4])
    store.insert(run[3:4])
    assert both(store) == [
        ("duplicate", "run-a", 2, "run-a/normalize"),
        ("duplicate", "run-a", 3, "run-a/triage"),
        ("duplicate", "run-a", 3, "run-a/triage"),
    ]


def test_the_store_refuses_the_tampering_itself(store: ChdbAuditStore) -> None:
    with pytest.raises(AuditStoreError, match="ALTER is refused"):
        store.query("ALTER TABLE dwf.events DELETE WHERE 1 = 1")


def test_another_database_name_is_used_and_checked() -> None:
    for build in CHECKS.values():
        assert "FROM audit_2.events" in build("audit_2")
        with pytest.raises(ValueError, match="letters, digits and underscores"):
            build("dwf; DROP TABLE x")


def test_docs_show_the_modules_sql_verbatim() -> None:
    """docs/audit.md carries each check in a ```sql block whose first line is `-- verify: NAME`."""
    text = DOC.read_text()
    blocks = dict(re.findall(r"```sql\n-- verify: (\w+)\n(.*?)\n```", text, flags=re.S))
    assert sorted(blocks) == sorted(CHECKS)
    for name, build in CHECKS.items():
        assert blocks[name] == build("dwf"), (
            f"docs/audit.md's `{name}` check differs from sinks/sql_verify.py"
        )


def test_docs_role_statements_parse(store: ChdbAuditStore) -> None:
    """The `-- roles` block is valid ClickHouse SQL (parsed by chdb's formatQuery; chdb has no access control
    to run it), and neither role is ever granted a statement that changes or removes rows."""
    text = DOC.read_text()
    (block,) = re.findall(r"```sql\n-- roles\n(.*?)\n```", text, flags=re.S)
    code = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in code.split(";") if s.strip()]
    assert len(statements) == 9
    for sql in statements:
        quoted = sql.replace("\\", "\\\\").replace("'", "\\'")
        assert store.query(f"SELECT formatQuery('{quoted}')").rows, sql
        if sql.startswith("GRANT") and " ON " in sql:
            privileges = re.sub(r"\(.*?\)", "", sql.split(" ON ", 1)[0])  # SELECT(run_id, hash) -> SELECT
            granted = privileges.removeprefix("GRANT ").split(",")
            assert {g.strip() for g in granted} <= {"INSERT", "SELECT"}, sql


def test_docs_users_xml_for_old_servers_is_well_formed() -> None:
    (block,) = re.findall(r"```xml\n(.*?)\n```", DOC.read_text(), flags=re.S)
    root = ET.fromstring(block)
    assert root.findtext("profiles/dwf_writer/allow_ddl") == "0"
    assert root.findtext("profiles/dwf_auditor/readonly") == "1"
    assert root.findtext("users/dwf_pipeline/profile") == "dwf_writer"
    assert root.findtext("users/dwf_audit/profile") == "dwf_auditor"


def test_no_code_path_changes_or_removes_audit_rows() -> None:
    """docs/audit.md promises it: no SQL text in the shipped packages alters, deletes, truncates or drops."""
    import ast

    root = DOC.parents[1]
    forbidden = re.compile(
        r"\b(ALTER\s+TABLE|TRUNCATE|OPTIMIZE\s+TABLE|DELETE\s+FROM|DROP\s+(TABLE|DATABASE))\b"
    )
    offenders = []
    for package in ("sinks", "streams", "processors", "schemas", "workflow"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and forbidden.search(node.value)
                ):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}: {node.value[:60]!r}")
    assert offenders == []
