"""The knowledge store on a real ClickHouse server (the native protocol), and a clickhouse source read
from a real table there through the audit store's read-only path."""

from __future__ import annotations

import pytest
from clickhouse_driver import Client

from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.query_source import read_table
from dana_workflows.knowledge.store import ContextUse, KnowledgeStore
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.stores import open_store
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.integration


def _dsn(c: ClickHouseServerConfig) -> str:
    auth = c.user + (f":{c.password.get_secret_value()}" if c.password.get_secret_value() else "")
    return f"clickhouse://{auth}@{c.host}:{c.port}/{c.database}"


def test_store_round_trip_on_the_server(clickhouse_database: ClickHouseServerConfig) -> None:
    store = KnowledgeStore.open(_dsn(clickhouse_database))
    try:
        v1 = [make_chunk("s:a", "s", "first", {"k": 1}), make_chunk("s:b", "s", "same", {})]
        v2 = [make_chunk("s:a", "s", "second", {"k": 2}), make_chunk("s:b", "s", "same", {})]
        first = store.record_sync("s", v1, {"score": 0.9}, {"kind": "files"}, 10)
        assert first is not None and store.record_sync("s", v1, {}, {}, 11) is None
        second = store.record_sync("s", v2, {"score": 0.9}, {"kind": "files"}, 12)
        assert second is not None
        assert store.latest()["s"].sync_id == second.sync_id
        assert [r.sync_id for r in store.history("s")] == [first.sync_id, second.sync_id]
        assert [c.text for c in store.chunk_versions("s:a")] == ["first", "second"]
        assert [c.text for c in store.snapshot()["s"][1]] == ["second", "same"]
        assert [c.text for c in store.chunks("s", first.manifest)] == ["first", "same"]
        store.pin(
            "wf",
            "assess",
            "run-1",
            ContextUse([("knowledge", "s:a", v1[0].version)], {"s": first.sync_id}),
            13,
        )
        assert store.pinned("wf", "assess", "run-1") == ContextUse(
            [("knowledge", "s:a", v1[0].version)], {"s": first.sync_id}
        )
        assert store.pinned("wf", "assess", "run-2") is None
        with pytest.raises(KnowledgeError, match="knowledge store clickhouse://"):
            store.backend.select("SELECT no_such_column FROM system.one")
    finally:
        store.close()


def test_a_clickhouse_source_reads_a_real_table(clickhouse_database: ClickHouseServerConfig) -> None:
    admin = Client(clickhouse_database.host, port=clickhouse_database.port, user=clickhouse_database.user)
    db = clickhouse_database.database
    admin.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    admin.execute(f"CREATE TABLE {db}.rates (code String, rate Float64) ENGINE = MergeTree() ORDER BY code")
    admin.execute(f"INSERT INTO {db}.rates VALUES", [("EUR", 1.1), ("GBP", 1.25)])
    admin.disconnect()
    reader = open_store(_dsn(clickhouse_database))
    try:
        src = KnowledgeSourceIR(id="rates", kind="clickhouse", table=f"{db}.rates", key="code")
        chunks = read_table(src, reader.query)
        assert [(c.chunk_id, c.meta["rate"]) for c in chunks] == [("rates:EUR", 1.1), ("rates:GBP", 1.25)]
        bad = KnowledgeSourceIR(id="bad", kind="clickhouse", table=f"{db}.missing", key="code")
        with pytest.raises(KnowledgeError, match="source 'bad': the query failed"):
            read_table(bad, reader.query)
    finally:
        reader.close()
