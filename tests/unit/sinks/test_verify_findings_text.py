"""What the verifiers say, word for word, and which database the SQL checks read: the parts of a finding a
person acts on (docs/audit.md, "The hash chain"). Written after mutation testing showed that a finding's
detail could be dropped, or the checks pointed at another database, with every other test passing.
"""

from __future__ import annotations

import dataclasses

import pytest

from dana_workflows.sinks.audit_model import QueryResult
from dana_workflows.sinks.sql_verify import (
    CHECKS,
    broken_links_sql,
    changed_rows_sql,
    duplicate_rows_sql,
    forked_rows_sql,
    sql_chain_findings,
)
from dana_workflows.sinks.verify import verify_rows
from tests.unit.sinks.test_verify_adversarial import run_rows

pytestmark = pytest.mark.unit


def test_a_missing_first_row_is_removed_from_seq_zero() -> None:
    rows = run_rows("r", n=4)
    (finding,) = verify_rows(rows[1:]).findings
    assert (finding.kind, finding.seq) == ("removed", 0)
    assert finding.detail == "rows 0..0 are missing before emitted at s1"


def test_a_gap_names_the_missing_positions() -> None:
    rows = run_rows("r", n=6)
    (finding,) = verify_rows([*rows[:2], *rows[4:]]).findings
    assert (finding.kind, finding.seq, finding.detail) == (
        "removed",
        2,
        "rows 2..3 are missing before emitted at s4",
    )


def test_a_duplicate_says_which_row_came_again() -> None:
    rows = run_rows("r", n=3)
    report = verify_rows([*rows, dataclasses.replace(rows[1])])
    assert report.ok
    assert [(f.kind, f.seq, f.detail) for f in report.findings] == [
        ("duplicate", 1, "emitted at s1 delivered again")
    ]


def test_the_sql_checks_read_dwf_unless_told_otherwise() -> None:
    defaults = [changed_rows_sql(), broken_links_sql(), forked_rows_sql(), duplicate_rows_sql()]
    assert len(defaults) == len(CHECKS)
    assert all("dwf.events" in sql for sql in defaults)  # docs/audit.md: "Replace dwf with your database"
    for name, build in CHECKS.items():
        assert "audit_2.events" in build("audit_2") and "dwf.events" not in build("audit_2"), name


@pytest.mark.parametrize("bad", ["", "1dwf", "9", "dwf;drop", "dwf.events", "a-b"])
def test_a_database_name_that_is_not_an_identifier_is_refused(bad: str) -> None:
    for build in CHECKS.values():
        with pytest.raises(ValueError, match="must be letters, digits and underscores"):
            build(bad)


def test_the_checks_run_on_the_stores_own_database() -> None:
    class Store:
        database = "tenant_7"

        def __init__(self) -> None:
            self.sql: list[str] = []

        def query(self, sql: str) -> QueryResult:
            self.sql.append(sql)
            return QueryResult(["kind", "workflow", "run_id", "seq", "event_id", "detail"], [])

    store = Store()
    assert sql_chain_findings(store) == []  # type: ignore[arg-type]
    assert len(store.sql) == len(CHECKS)
    assert all("tenant_7.events" in sql and "dwf.events" not in sql for sql in store.sql)
