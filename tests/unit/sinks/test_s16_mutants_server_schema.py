"""ServerAuditStore.ensure_schema (session 16 wrapped it in the server's refusal): a writer that finds its
table already there looks once, not before every batch ("a writer needs no separate setup step": the
first insert sets the table up, the ones after it write) (mutation pass, session 17)."""

from __future__ import annotations

import pytest

from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from tests.fixtures.clickhouse import audit_chain
from tests.unit.sinks.test_mut9_server_store_logic import ScriptedServer, server

pytestmark = pytest.mark.unit

__all__ = ["server"]  # the fixture, used by name


@pytest.mark.parametrize("table_exists", [True, False])
def test_the_table_is_looked_for_once_for_many_batches(server: ScriptedServer, table_exists: bool) -> None:
    server.table_exists = table_exists
    store = ServerAuditStore(database="audit")
    rows = audit_chain("r", 3)
    for row in rows:
        store.insert([row])
    sqls = [sql for sql, _, _ in server.calls]
    assert sum(sql.startswith("EXISTS TABLE") for sql in sqls) == 1
    assert sum(sql.startswith("INSERT") for sql in sqls) == 3
