"""Which rows a store already holds (``stored_hashes``), and the table SQL is written against.

Every store answers ``present`` through this one function (docs/audit.md: an at-least-once redelivery is
found by hash and not inserted twice), so its SQL is pinned here as the docstring describes it: the
workflow and run INs first (the table's sort key), quoted literals, chunks of PRESENCE_CHUNK hashes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dana_workflows.sinks.audit_model import (
    PRESENCE_CHUNK,
    AuditRow,
    QueryResult,
    events_table,
    store_database,
    stored_hashes,
)

pytestmark = pytest.mark.unit


def _row(workflow: str, run_id: str, seq: int) -> AuditRow:
    return AuditRow(
        workflow=workflow,
        workflow_version=1,
        run_id=run_id,
        seq=seq,
        event_id=f"e{seq}",
        step="ingest",
        kind="received",
        hash=f"{seq:064x}",
    )


class Store:
    """A read-only query that answers from the hashes it holds and records the SQL it was asked."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.asked: list[str] = []

    def query(self, sql: str) -> QueryResult:
        self.asked.append(sql)
        return QueryResult(columns=["hash"], rows=[(h,) for h in sorted(self.held) if f"'{h}'" in sql])


def test_the_presence_query_names_workflows_runs_and_hashes_as_quoted_literals_in_key_order() -> None:
    rows = [_row("claims", "run-b", 1), _row("claims", "run-a", 2), _row("o'brien", "run-a", 3)]
    store = Store(held=set())
    stored_hashes(store.query, "dwf.events", rows)
    h1, h2, h3 = (f"{n:064x}" for n in (1, 2, 3))
    assert store.asked == [
        "SELECT hash FROM dwf.events WHERE workflow IN ('claims', 'o\\'brien') "
        "AND run_id IN ('run-a', 'run-b') "
        f"AND hash IN ('{h1}', '{h2}', '{h3}')"
    ]


def test_only_the_held_rows_come_back_and_an_empty_batch_asks_nothing() -> None:
    rows = [_row("claims", "r", n) for n in range(5)]
    store = Store(held={rows[1].hash, rows[3].hash, "f" * 64})  # one held hash is not in the batch
    assert stored_hashes(store.query, "dwf.events", rows) == {rows[1].hash, rows[3].hash}
    empty = Store(held={rows[0].hash})
    assert stored_hashes(empty.query, "dwf.events", []) == set()
    assert empty.asked == []


def test_a_batch_is_asked_in_chunks_of_presence_chunk_hashes() -> None:
    rows = [_row("claims", "r", n) for n in range(2 * PRESENCE_CHUNK + 1)]
    store = Store(held={rows[0].hash, rows[PRESENCE_CHUNK].hash, rows[-1].hash})
    found = stored_hashes(store.query, "t", rows)
    assert found == {rows[0].hash, rows[PRESENCE_CHUNK].hash, rows[-1].hash}
    assert [sql.count("'", sql.index("hash IN")) // 2 for sql in store.asked] == [
        PRESENCE_CHUNK,
        PRESENCE_CHUNK,
        1,
    ]
    # each chunk names only its own rows' hashes: the first row's hash is asked once
    assert sum(f"'{rows[0].hash}'" in sql for sql in store.asked) == 1


def test_the_table_is_qualified_by_the_stores_database_or_dwf() -> None:
    assert store_database(SimpleNamespace(database="audit_prod")) == "audit_prod"
    assert store_database(object()) == "dwf"
    assert events_table(SimpleNamespace(database="audit_prod")) == "audit_prod.events"
    assert events_table(object()) == "dwf.events"


def test_a_row_as_a_tuple_and_a_dict_follows_the_tables_column_order() -> None:
    """docs/audit.md's column order, written out by hand: the insert and the hash both depend on it."""
    row = AuditRow(
        workflow="claims",
        workflow_version=3,
        run_id="r1",
        seq=7,
        event_id="e7",
        step="check",
        kind="rejected",
        decision="reject",
        reason="too big",
        rule_results='[{"id":"max"}]',
        attempt=2,
        duration_us=150,
        details='{"k":1}',
        ts_us=1_700_000_000_000_000,
        prev_hash="a" * 64,
        hash="b" * 64,
    )
    values: tuple[object, ...] = ("claims", 3, "r1", 7, "e7", "check", "rejected", "reject", "too big")
    values += ('[{"id":"max"}]', 2, 150, '{"k":1}', 1_700_000_000_000_000, "a" * 64, "b" * 64)
    names: tuple[str, ...] = ("workflow", "workflow_version", "run_id", "seq", "event_id", "step", "kind")
    names += ("decision", "reason", "rule_results", "attempt", "duration_us", "details", "ts_us")
    names += ("prev_hash", "hash")
    assert row.as_tuple() == values
    assert list(row.as_dict().items()) == list(zip(names, values, strict=True))
    assert AuditRow.from_mapping(row.as_dict()) == row
