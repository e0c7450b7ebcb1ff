"""The AuditStore contract, run against both backends (embedded chdb and a real ClickHouse server),
plus what only the server path has: version gating, read-only queries, idempotent retries on old servers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from dana_workflows.sinks.audit_model import AUDIT_TABLE, COLUMNS, AuditRow, AuditStore
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.stores import open_store
from tests.fixtures.clickhouse import audit_chain, verify_chain

pytestmark = pytest.mark.integration


def table(store: AuditStore) -> str:
    database: str = getattr(store, "database", "dwf")
    return f"{database}.{AUDIT_TABLE}"


def read_rows(store: AuditStore, where: str = "1") -> list[AuditRow]:
    res = store.query(f"SELECT {', '.join(COLUMNS)} FROM {table(store)} WHERE {where} ORDER BY run_id, seq")
    return [AuditRow.from_mapping(dict(zip(res.columns, r, strict=True))) for r in res.rows]


def count(store: AuditStore) -> int:
    return int(store.query(f"SELECT count() AS n FROM {table(store)}").rows[0][0])


def dedup_supported(store: AuditStore) -> bool:
    return bool(getattr(store, "supports_dedup_token", True))


# -- contract: both backends -------------------------------------------------------------------------------


def test_insert_then_query_round_trips_rows(audit_store: AuditStore) -> None:
    rows = audit_chain("run-a", 5) + audit_chain("run-b", 3)
    audit_store.insert(rows)
    assert read_rows(audit_store) == rows


def test_select_star_gives_columns_in_contract_order(audit_store: AuditStore) -> None:
    audit_store.insert(audit_chain("run-a", 2))
    res = audit_store.query(f"SELECT * FROM {table(audit_store)} ORDER BY seq")
    assert res.columns == list(COLUMNS)
    assert len(res.rows) == 2


def test_query_names_expression_columns(audit_store: AuditStore) -> None:
    audit_store.insert(audit_chain("run-a", 4))
    res = audit_store.query(f"SELECT count() AS n, max(seq) AS last_seq FROM {table(audit_store)}")
    assert res.columns == ["n", "last_seq"]
    assert [tuple(int(v) for v in r) for r in res.rows] == [(4, 3)]


def test_empty_insert_is_a_no_op(audit_store: AuditStore) -> None:
    audit_store.insert([])
    audit_store.insert([], dedup_token="t-0-0-0")
    assert count(audit_store) == 0


def test_unicode_and_special_characters_survive(audit_store: AuditStore) -> None:
    rows = audit_chain("run-ü", 1)
    row = rows[0]
    row.reason = "montant > plafond — 超过限额 — حد 🚫 \"quoted\" 'single' back\\slash\ttab\nnewline"
    row.details = '{"note":"naïve café ☕","path":"C:\\\\tmp"}'
    row.step = "étape_1"
    from dana_workflows.schemas.envelope import GENESIS_HASH
    from dana_workflows.sinks.audit_model import seal

    seal(row, GENESIS_HASH)  # resealed after the edits: the first row of a run links to the genesis hash
    audit_store.insert(rows)
    assert read_rows(audit_store) == rows
    assert verify_chain(read_rows(audit_store)) == []


def test_large_batch_in_one_insert(audit_store: AuditStore) -> None:
    rows = [r for i in range(20) for r in audit_chain(f"run-{i:02d}", 1000)]
    audit_store.insert(rows, dedup_token="dwf.audit-0-0-19999")
    assert count(audit_store) == 20_000
    stored = read_rows(audit_store)
    assert stored == rows
    for i in range(20):
        assert verify_chain([r for r in stored if r.run_id == f"run-{i:02d}"]) == []


def test_replayed_batch_with_same_token_adds_no_rows(audit_store: AuditStore) -> None:
    if not dedup_supported(audit_store):
        version = ".".join(map(str, getattr(audit_store, "server_version", lambda: ())()))
        pytest.skip(f"ClickHouse {version} has no insert_deduplication_token (needs >= 22.2)")
    rows = audit_chain("run-a", 10)
    audit_store.insert(rows, dedup_token="dwf.audit-0-100-109")
    audit_store.insert(rows, dedup_token="dwf.audit-0-100-109")
    assert count(audit_store) == 10
    audit_store.insert(audit_chain("run-b", 10), dedup_token="dwf.audit-0-110-119")
    assert count(audit_store) == 20


def test_query_cannot_change_the_audit_table(audit_store: AuditStore) -> None:
    audit_store.insert(audit_chain("run-a", 3))
    for sql in (
        f"TRUNCATE TABLE {table(audit_store)}",
        f"DROP TABLE {table(audit_store)}",
        f"ALTER TABLE {table(audit_store)} DELETE WHERE 1",
        f"INSERT INTO {table(audit_store)} (run_id) VALUES ('x')",
        # chdb runs every statement of a text: a reading first word must not carry a second one
        f"SELECT 1; TRUNCATE TABLE {table(audit_store)}",
        f"SELECT ';' AS s; DROP TABLE {table(audit_store)}",
        f"SELECT 1 /* ; */; ALTER TABLE {table(audit_store)} DELETE WHERE 1",
    ):
        with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error type
            audit_store.query(sql)
    assert count(audit_store) == 3


def test_present_names_exactly_the_stored_rows(audit_store: AuditStore) -> None:
    stored = audit_chain("run-'quoted\\", 5) + audit_chain("run-b", 3)
    audit_store.insert(stored)
    asked = audit_chain("run-'quoted\\", 9) + audit_chain("run-c", 2)  # 5 stored, 4 + 2 not
    assert audit_store.present(asked) == {r.hash for r in stored[:5]}
    assert audit_store.present(audit_chain("run-c", 2)) == set()
    many = audit_chain("run-b", 2500)  # more than one presence query's worth of hashes
    assert audit_store.present(many) == {r.hash for r in stored[5:]}


def test_ensure_schema_twice_keeps_rows(audit_store: AuditStore) -> None:
    audit_store.insert(audit_chain("run-a", 3))
    audit_store.ensure_schema()
    assert count(audit_store) == 3


# -- server only ---------------------------------------------------------------------------------------------


@pytest.fixture
def server_store(clickhouse_database: ClickHouseServerConfig) -> Any:
    store = ServerAuditStore.from_config(clickhouse_database)
    store.ensure_schema()
    yield store
    store.close()


def test_dsn_opens_the_server_store(clickhouse_database: ClickHouseServerConfig) -> None:
    store = open_store(clickhouse_database)
    try:
        assert isinstance(store, ServerAuditStore)
        store.ensure_schema()
        store.insert(audit_chain("run-a", 2))
        assert count(store) == 2
    finally:
        store.close()


def test_a_refused_login_is_one_audit_store_error_naming_the_store(
    clickhouse_database: ClickHouseServerConfig,
) -> None:
    """A wrong password: the run stops before any event with one line (the store, the server's reason), not
    clickhouse-driver's ServerException with the server's stack trace (newcomer review F11)."""
    wrong = clickhouse_database.model_copy(update={"password": SecretStr("not-the-password")})
    store = ServerAuditStore.from_config(wrong)
    try:
        with pytest.raises(AuditStoreError) as refused:
            store.ensure_schema()
    finally:
        store.close()
    message = str(refused.value)
    assert message.startswith(f"audit store ServerAuditStore({wrong.user}@{wrong.host}:{wrong.port}/")
    assert "(code 193)" in message and "Stack trace" not in message and "not-the-password" not in message


def test_server_version_gates_the_dedup_window(server_store: ServerAuditStore) -> None:
    version = server_store.server_version()
    assert version >= (18,)
    ddl = server_store.query(f"SHOW CREATE TABLE {server_store.table}").rows[0][0]
    assert "MergeTree" in ddl and "Replacing" not in ddl and "TTL" not in ddl
    assert ("non_replicated_deduplication_window" in ddl) == (version >= (22, 2))


def test_retry_after_unknown_outcome_inserts_only_missing_rows(server_store: ServerAuditStore) -> None:
    """A batch whose first attempt may have committed (connection lost after sending) is never doubled."""
    if server_store.supports_dedup_token:
        pytest.skip("servers >= 22.2 deduplicate retries by insert_deduplication_token instead")
    rows = audit_chain("run-a", 50)
    token = "dwf.audit-3-0-49"
    server_store.insert(rows[:30], dedup_token=token)  # say the server kept part of a failed attempt
    server_store._unsure.add(token)  # what insert() records when an attempt raises
    server_store.insert(rows, dedup_token=token)
    assert count(server_store) == 50
    assert read_rows(server_store) == rows
    server_store._unsure.add(token)
    server_store.insert(rows, dedup_token=token)  # everything already there: nothing is added
    assert count(server_store) == 50
