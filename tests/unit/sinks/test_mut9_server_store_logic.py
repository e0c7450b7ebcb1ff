"""ServerAuditStore's own logic against a scripted stand-in for clickhouse-driver's Client (the real server is
tests/integration): schema set-up (look before creating: an INSERT-only writer has no DDL rights), inserts
with the deduplication token where the server has it (>= 22.2) and, on older servers, a retried batch whose
first attempt failed re-inserting only the rows not stored (module docstring), ``present`` for a writer that
may not SELECT (told once, then empty), and user queries run read-only with one-line errors.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from clickhouse_driver.errors import ServerException

from dana_workflows.sinks import clickhouse_server
from dana_workflows.sinks.audit_model import AUDIT_TABLE, COLUMNS, QueryResult
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.clickhouse_server import ServerAuditStore, server_message
from dana_workflows.sinks.dsn import DsnError
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.unit

HASH = COLUMNS.index("hash")


class ScriptedServer:
    """Answers the statements ServerAuditStore sends, keeping inserted rows' hashes."""

    def __init__(self, version: str = "24.8.4.13") -> None:
        self.version = version
        self.table_exists = False
        self.stored: list[str] = []
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self.fail_inserts = 0
        self.commit_before_failing = False
        self.deny_select = False
        self.profile_readonly = False
        self.disconnects = 0
        self.select_code = 497

    def execute(self, sql: str, params: Any = None, **kwargs: Any) -> Any:
        self.calls.append((sql, params, kwargs))
        if sql == "SELECT version()":
            return [(self.version,)]
        if sql.startswith("EXISTS TABLE"):
            return [(int(self.table_exists),)]
        if sql.startswith("CREATE TABLE"):
            self.table_exists = True
            return []
        if sql.startswith("CREATE DATABASE"):
            return []
        if sql.startswith("INSERT INTO"):
            if self.fail_inserts:
                self.fail_inserts -= 1
                if self.commit_before_failing:
                    self.stored += params[HASH]
                raise ConnectionError("connection reset by peer")
            self.stored += params[HASH]
            return len(params[HASH])
        if sql == "SELECT 1":
            if self.profile_readonly and kwargs.get("settings"):
                raise ServerException(
                    "DB::Exception: Cannot modify 'readonly' setting in readonly mode", code=164
                )
            return [(1,)]
        if sql.startswith("SELECT hash FROM"):
            if self.deny_select:
                raise ServerException("DB::Exception: writer: Not enough privileges.", code=self.select_code)
            asked = set(re.findall(r"'([0-9a-f]{64})'", sql))
            return [(h,) for h in self.stored if h in asked], [("hash", "String")]
        if sql.startswith("SELECT boom"):
            raise ServerException("DB::Exception: Unknown identifier boom.\nStack trace:\n0. frame", code=47)
        return [(1, "a")], [("n", "UInt8"), ("s", "String")]

    def disconnect(self) -> None:
        self.disconnects += 1


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    scripted = ScriptedServer()
    monkeypatch.setattr(clickhouse_server, "Client", lambda *args, **kwargs: scripted)
    return scripted


def _inserts(server: ScriptedServer) -> list[tuple[Any, dict[str, Any]]]:
    return [(params, kwargs) for sql, params, kwargs in server.calls if sql.startswith("INSERT")]


def test_the_schema_is_created_only_when_the_table_is_missing(server: ScriptedServer) -> None:
    store = ServerAuditStore(database="audit")
    store.ensure_schema()
    sqls = [sql for sql, _, _ in server.calls]
    assert sqls[:3] == [
        "SELECT version()",
        f"EXISTS TABLE audit.{AUDIT_TABLE}",
        "CREATE DATABASE IF NOT EXISTS audit",
    ]
    assert sqls[3].startswith(f"CREATE TABLE IF NOT EXISTS audit.{AUDIT_TABLE} (")
    assert sqls[3].endswith("SETTINGS non_replicated_deduplication_window = 10000")
    server.calls.clear()
    ServerAuditStore(database="audit").ensure_schema()
    assert [sql for sql, _, _ in server.calls] == ["SELECT version()", f"EXISTS TABLE audit.{AUDIT_TABLE}"]


def test_an_old_server_gets_a_table_without_the_dedup_window(server: ScriptedServer) -> None:
    server.version = "18.16.1"
    store = ServerAuditStore()
    assert store.server_version() == (18, 16, 1)
    assert store.supports_dedup_token is False
    store.ensure_schema()
    assert "SETTINGS" not in server.calls[-1][0]
    assert [sql for sql, _, _ in server.calls].count("SELECT version()") == 1  # asked once


def test_an_insert_sends_columns_and_the_token_where_the_server_has_it(server: ScriptedServer) -> None:
    store = ServerAuditStore()
    rows = audit_chain("r", 3)
    store.insert(rows, "dwf.audit-0-5-7")
    store.insert(rows[:1])
    store.insert([])
    [(params, kwargs), (_, untokened)] = _inserts(server)
    assert params[HASH] == [r.hash for r in rows]
    assert params[COLUMNS.index("seq")] == [0, 1, 2]
    assert kwargs == {"columnar": True, "settings": {"insert_deduplication_token": "dwf.audit-0-5-7"}}
    assert untokened == {"columnar": True, "settings": None}
    insert_sql = next(sql for sql, _, _ in server.calls if sql.startswith("INSERT"))
    assert insert_sql == f"INSERT INTO dwf.{AUDIT_TABLE} ({', '.join(COLUMNS)}) VALUES"
    assert store.table == f"dwf.{AUDIT_TABLE}"
    assert repr(store) == "ServerAuditStore(default@127.0.0.1:9000/dwf)"


def test_on_an_old_server_a_retried_batch_adds_only_the_rows_not_stored(server: ScriptedServer) -> None:
    server.version = "18.16.1"
    store = ServerAuditStore()
    rows = audit_chain("r", 4)
    server.fail_inserts, server.commit_before_failing = 1, True  # stored, then the connection dropped
    with pytest.raises(ConnectionError):
        store.insert(rows, "t1")
    assert server.disconnects == 1  # a failed call starts a fresh connection next time
    store.insert(rows, "t1")  # the retry: everything is there already, nothing is inserted again
    assert server.stored == [r.hash for r in rows]
    assert [kw["settings"] for _, kw in _inserts(server)] == [None]
    store.insert(rows, "t1")  # no longer unsure: a deliberate re-insert goes through (verify names it)
    assert len(server.stored) == 8


def test_on_an_old_server_a_batch_that_never_arrived_is_inserted_whole_on_retry(
    server: ScriptedServer,
) -> None:
    server.version = "21.8"
    store = ServerAuditStore()
    rows = audit_chain("r", 3)
    server.stored = [rows[0].hash]  # a row of the batch some earlier attempt got in
    server.fail_inserts = 1
    with pytest.raises(ConnectionError):
        store.insert(rows)
    store.insert(rows)  # the key without a token: first hash, last hash, count
    assert server.stored == [rows[0].hash, rows[1].hash, rows[2].hash]


def test_on_a_new_server_a_retry_relies_on_the_token_alone(server: ScriptedServer) -> None:
    store = ServerAuditStore()
    rows = audit_chain("r", 2)
    server.fail_inserts = 1
    with pytest.raises(ConnectionError):
        store.insert(rows, "t")
    store.insert(rows, "t")
    assert not [sql for sql, _, _ in server.calls if sql.startswith("SELECT hash")]  # no presence check
    assert len(_inserts(server)) == 2


def test_a_writer_that_may_not_select_is_told_once(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = ServerAuditStore(user="writer")
    rows = audit_chain("r", 2)
    server.deny_select = True
    with caplog.at_level(logging.WARNING, logger="dana_workflows.sinks.clickhouse_server"):
        assert store.present(rows) == set()
        assert store.present(rows) == set()
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"audit writer writer may not SELECT from dwf.{AUDIT_TABLE}: ")
    assert f"GRANT SELECT(workflow, run_id, hash) ON dwf.{AUDIT_TABLE}" in warning
    assert warning.endswith("lets it leave out rows stored already (docs/audit.md, roles)")


def test_present_names_the_stored_rows_and_other_refusals_propagate(server: ScriptedServer) -> None:
    store = ServerAuditStore()
    rows = audit_chain("r", 3)
    server.stored = [rows[1].hash]
    assert store.present(rows) == {rows[1].hash}
    [(_, _, kwargs)] = [c for c in server.calls if c[0].startswith("SELECT hash")]
    assert kwargs["settings"] == {"readonly": 1} and kwargs["with_column_types"] is True
    server.deny_select, server.select_code = True, 241  # a refusal other than access denied
    with pytest.raises(ServerException):
        store.present(rows)


def test_user_queries_run_read_only_with_one_line_errors(server: ScriptedServer) -> None:
    store = ServerAuditStore()
    assert store.query("SELECT n, s FROM t") == QueryResult(columns=["n", "s"], rows=[(1, "a")])
    assert server.calls[-1][2]["settings"] == {"readonly": 1}
    with pytest.raises(AuditStoreError) as err:
        store.query("DROP TABLE t")
    assert str(err.value).endswith("DROP is refused: audit rows are never changed or deleted")
    with pytest.raises(AuditStoreError) as err:
        store.query("SELECT boom")
    assert str(err.value) == "the server refused the query: Unknown identifier boom. (code 47)"


def test_a_readonly_profile_gets_no_settings_and_is_probed_once(server: ScriptedServer) -> None:
    server.profile_readonly = True
    store = ServerAuditStore()
    store.query("SELECT n FROM t")
    store.query("SELECT n FROM t")
    assert [c[0] for c in server.calls].count("SELECT 1") == 1
    assert server.calls[-1][2]["settings"] is None


def test_close_disconnects(server: ScriptedServer) -> None:
    ServerAuditStore().close()
    assert server.disconnects == 1


def test_server_messages_lose_the_prefix_and_the_trace() -> None:
    exc = ServerException("DB::Exception: Not enough privileges. Stack trace: 0. x", code=497)
    assert server_message(exc) == "Not enough privileges. (code 497)"
    assert server_message(ServerException("", code=1)) == " (code 1)"


def test_a_chdb_dsn_is_refused_by_name(server: ScriptedServer) -> None:
    with pytest.raises(DsnError) as err:
        ServerAuditStore.from_dsn("chdb://.dwf/audit")
    assert str(err.value) == "ServerAuditStore needs a clickhouse:// DSN, got 'chdb://.dwf/audit'"


def test_the_first_insert_sets_the_schema_up_once(server: ScriptedServer) -> None:
    store = ServerAuditStore()
    store.insert(audit_chain("r", 1))
    store.insert(audit_chain("s", 1))
    sqls = [sql.split(" ")[0] + " " + sql.split(" ")[1] for sql, _, _ in server.calls]
    assert sqls == [
        "SELECT version()",
        "EXISTS TABLE",
        "CREATE DATABASE",
        "CREATE TABLE",
        "INSERT INTO",
        "INSERT INTO",
    ]


def test_each_unsure_batch_is_remembered_by_its_own_key(server: ScriptedServer) -> None:
    server.version = "18.16.1"
    store = ServerAuditStore()
    a, b = audit_chain("a", 2), audit_chain("b", 2)
    server.fail_inserts, server.commit_before_failing = 1, True
    with pytest.raises(ConnectionError):
        store.insert(a)
    store.insert(b)  # another batch in between: a stays unsure
    store.insert(a)  # a's retry: found stored, not inserted twice
    assert server.stored == [r.hash for r in [*a, *b]]
    server.fail_inserts, server.commit_before_failing = 1, False
    c = audit_chain("c", 2)
    server.stored.append(c[0].hash)  # half of c got in before
    with pytest.raises(ConnectionError):
        store.insert(c)
    store.insert(c)  # the retry adds the missing row and c is sure again...
    store.insert(c)  # ...so a deliberate re-insert is not filtered
    assert server.stored.count(c[1].hash) == 2


def test_the_readonly_probe_runs_once_for_a_normal_user_and_the_table_is_named(
    server: ScriptedServer,
) -> None:
    store = ServerAuditStore()
    store.query("SELECT n FROM t")
    store.query("SELECT n FROM t")
    assert [c[0] for c in server.calls].count("SELECT 1") == 1
    store.present(audit_chain("r", 1))
    assert server.calls[-1][0].startswith(f"SELECT hash FROM dwf.{AUDIT_TABLE} WHERE ")


def test_only_the_first_stack_trace_marker_cuts_the_message(caplog: pytest.LogCaptureFixture) -> None:
    exc = ServerException("DB::Exception: bad value Stack trace: a Stack trace: b", code=6)
    assert server_message(exc) == "bad value (code 6)"
