"""User SQL on a ClickHouse server store runs in the DSN's database (newcomer4 N4-6): `audit sql "SELECT ...
FROM events"` with DWF_AUDIT_DSN=clickhouse://.../nc4 read `default.events` ("Table default.events doesn't
exist"), and `audit verify` on a database that is not there ended in a traceback. The writer's connection
stays in the server's default database: it creates the DSN's database, which may not be there yet."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_driver.errors import ServerException

from dana_workflows.sinks import clickhouse_server
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.clickhouse_server import ServerAuditStore

pytestmark = pytest.mark.unit


class Server:
    """One ClickHouse server holding the databases in `databases`; each Client made is recorded."""

    databases = {"default", "nc4"}

    def __init__(self, host: str, database: str = "default", **kwargs: Any) -> None:
        self.database = database
        self.calls: list[str] = []
        made.append(self)

    def execute(self, sql: str, params: Any = None, **kwargs: Any) -> Any:
        if self.database not in Server.databases:  # the handshake names a database the server lacks
            raise ServerException(f"DB::Exception: Database {self.database} doesn't exist.", code=81)
        self.calls.append(sql)
        if "FROM events" in sql:
            return [("completed", 3)], [("kind", "String"), ("count()", "UInt64")]
        return [(1,)], [("1", "UInt8")]

    def disconnect(self) -> None:
        pass


made: list[Server] = []


@pytest.fixture(autouse=True)
def server(monkeypatch: pytest.MonkeyPatch) -> None:
    made.clear()
    monkeypatch.setattr(clickhouse_server, "Client", Server)


def test_user_sql_reads_the_dsns_database_and_the_writer_stays_in_the_default_one() -> None:
    store = ServerAuditStore(database="nc4")
    result = store.query("SELECT kind, count() FROM events GROUP BY kind")
    assert result.rows == [("completed", 3)]
    (users,) = [c for c in made if any("FROM events" in sql for sql in c.calls)]
    assert users.database == "nc4"
    assert made[0].database == "default"  # the writer's: CREATE DATABASE may come first
    store.close()


def test_a_database_the_server_lacks_is_one_refusal_naming_it() -> None:
    store = ServerAuditStore(database="nodb")
    with pytest.raises(AuditStoreError, match=r"Database nodb doesn't exist\. \(code 81\)"):
        store.query("SELECT 1")
    store.close()
