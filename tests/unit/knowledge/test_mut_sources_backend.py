"""Query sources and the server backend (knowledge/query_source.py, backend.py), with fakes for the wire.

From the docstrings: a table or SELECT is read with the source's row limit and becomes one chunk per
row; a failing query names the source, the first line of the error and the fix; the audit source reads
an llm step's remembered decisions newest first, one chunk per run, only those carrying the ``by``
field; the server backend runs one statement at a time, drops its connection on an error and names the
store without its password.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.knowledge import backend as backend_module
from dana_workflows.knowledge.backend import ChdbBackend, ServerBackend, open_backend
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.query_source import read_audit, read_table
from dana_workflows.sinks.audit_model import QueryResult
from dana_workflows.sinks.dsn import parse_dsn
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit

DAY_US = 86_400_000_000


class Recorder:
    def __init__(self, result: QueryResult | Exception) -> None:
        self.result = result
        self.sql: list[str] = []

    def __call__(self, sql: str) -> QueryResult:
        self.sql.append(sql)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_a_table_is_read_with_the_row_limit_one_chunk_a_row() -> None:
    src = KnowledgeSourceIR(id="pol", kind="clickhouse", table="db.policies", key="id", limit=50)
    q = Recorder(QueryResult(["id", "limit_usd"], [("P1", 1000), ("P2", 2000)]))
    chunks = read_table(src, q)
    assert q.sql == ["SELECT * FROM (SELECT * FROM db.policies) LIMIT 50"]
    assert [c.chunk_id for c in chunks] == ["pol:P1", "pol:P2"]
    assert chunks[0].meta == {"id": "P1", "limit_usd": 1000}


def test_a_query_source_wraps_its_select() -> None:
    src = KnowledgeSourceIR(id="q", kind="clickhouse", query="SELECT 1 AS x", key="x", limit=3)
    q = Recorder(QueryResult(["x"], [(1,)]))
    chunks = read_table(src, q)
    assert q.sql == ["SELECT * FROM (SELECT 1 AS x) LIMIT 3"]
    assert [c.chunk_id for c in chunks] == ["q:1"]


def test_a_failing_query_names_the_source_the_first_line_and_the_fix() -> None:
    src = KnowledgeSourceIR(id="pol", kind="clickhouse", table="t", key="id")
    with pytest.raises(KnowledgeError) as e:
        read_table(src, Recorder(RuntimeError("Code: 60. Unknown table\nstack trace")))
    assert str(e.value) == "source 'pol': the query failed (Code: 60. Unknown table); fix the SQL or the DSN"
    with pytest.raises(KnowledgeError, match=r"the query failed \(TimeoutError\)"):
        read_table(src, Recorder(TimeoutError()))


def _details(keys: dict[str, Any], answer: dict[str, Any]) -> str:
    return json.dumps({"dwf.memory": {"keys": keys, "answer": answer}})


def test_earlier_decisions_become_chunks_per_run_carrying_the_by_field() -> None:
    src = KnowledgeSourceIR(id="mem", kind="audit", step="risk", by="policy_id", limit=7)
    rows = [
        ("r2", 2 * DAY_US, _details({"policy_id": "P1", "nested": {"a": 1}}, {"risk": "high", "share": 0.5})),
        ("r2", 2 * DAY_US, _details({"policy_id": "P1"}, {"risk": "low"})),  # the same run again
        ("r1", DAY_US, _details({"claim": "C1"}, {"risk": "low"})),  # no policy_id: not history by it
        ("r0", 0, _details({"policy_id": "P2"}, {"risk": "low"})),
    ]
    q = Recorder(QueryResult(["run_id", "ts_us", "details"], rows))
    chunks = read_audit(src, q, "dwf", "claims")
    sql = q.sql[0]
    assert sql.startswith("SELECT run_id, ts_us, details FROM dwf.events WHERE workflow = 'claims'")
    assert "AND kind = 'emitted'" in sql and "LIKE '%risk'" in sql
    assert sql.endswith("ORDER BY ts_us DESC LIMIT 7")
    assert [c.chunk_id for c in chunks] == ["mem:r2", "mem:r0"]
    first = chunks[0]
    assert (
        first.text == "Earlier decision (1970-01-03) for policy_id=P1, nested={'a': 1}: risk=high, share=0.5"
    )
    assert first.meta == {"policy_id": "P1", "run_id": "r2"}
    assert first.updated_us == 2 * DAY_US and first.source == "mem"


def test_the_audit_source_may_read_another_workflow() -> None:
    src = KnowledgeSourceIR(id="mem", kind="audit", step="s", by="k", workflow="other")
    q = Recorder(QueryResult(["run_id", "ts_us", "details"], []))
    assert read_audit(src, q, "db", "claims") == []
    assert "WHERE workflow = 'other'" in q.sql[0] and "FROM db.events" in q.sql[0]


# -- backends --------------------------------------------------------------------------------------------


class FakeClient:
    def __init__(self, *args: Any, **kw: Any) -> None:
        self.kw = kw
        self.calls: list[tuple[str, Any]] = []
        self.disconnected = 0
        self.fail: Exception | None = None
        self.reply: list[Any] = []

    def execute(self, sql: str, params: Any = None) -> list[Any]:
        self.calls.append((sql, params))
        if self.fail is not None:
            raise self.fail
        return self.reply

    def disconnect(self) -> None:
        self.disconnected += 1


def _server(monkeypatch: pytest.MonkeyPatch) -> tuple[ServerBackend, FakeClient]:
    import clickhouse_driver

    monkeypatch.setattr(clickhouse_driver, "Client", FakeClient)
    config = parse_dsn("clickhouse://u:secret@h:9000/kdb")
    b = ServerBackend(config)  # type: ignore[arg-type]
    return b, b._client  # type: ignore[return-value]


def test_the_server_backend_runs_statements_and_names_itself_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b, c = _server(monkeypatch)
    assert b.database == "kdb" and b.where == "clickhouse://u:***@h:9000/kdb"
    assert c.kw["client_name"] == "dana-workflows-knowledge" and c.kw["password"] == "secret"
    b.execute("CREATE TABLE x")
    c.reply = [[1, "a"], [2, "b"]]
    assert b.select("SELECT") == [(1, "a"), (2, "b")]
    b.insert("t", ("a", "b"), [])
    b.insert("t", ("a", "b"), [[1, 2]])
    assert c.calls == [("CREATE TABLE x", None), ("SELECT", None), ("INSERT INTO t (a, b) VALUES", [(1, 2)])]
    b.close()
    assert c.disconnected == 1


def test_a_server_error_drops_the_connection_and_names_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    b, c = _server(monkeypatch)
    c.fail = RuntimeError("Code: 81. Database kdb does not exist\nmore")
    with pytest.raises(KnowledgeError) as e:
        b.select("SELECT 1")
    assert (
        str(e.value) == "knowledge store clickhouse://u:***@h:9000/kdb: Code: 81. Database kdb does not exist"
    )
    assert c.disconnected == 1 and "secret" not in str(e.value)


def test_a_bad_dsn_is_named_as_the_knowledge_dsn() -> None:
    with pytest.raises(KnowledgeError) as e:
        open_backend("mysql://x")
    assert "knowledge DSN" in str(e.value) and "audit DSN" not in str(e.value)


def test_open_backend_picks_the_backend_by_scheme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import clickhouse_driver

    monkeypatch.setattr(clickhouse_driver, "Client", FakeClient)
    assert isinstance(open_backend("clickhouse://u@h:9000/kdb"), ServerBackend)
    chdb = open_backend(f"chdb://{tmp_path / 'k'}")
    try:
        assert isinstance(chdb, ChdbBackend) and chdb.where == f"chdb://{tmp_path / 'k'}"
        chdb.insert("nowhere.t", ("a",), [])  # no rows: no statement (the table need not exist)
        assert chdb.select("SELECT 1 WHERE 0") == []
        assert chdb.select("SELECT 1 AS a, 'x' AS b") == [(1, "x")]
        with pytest.raises(KnowledgeError) as e:
            chdb.execute("SELEC nonsense")
        # the store's name, then the first line of chdb's message (its code and exception)
        assert str(e.value).startswith(f"knowledge store chdb://{tmp_path / 'k'}: Code: ")
        assert "DB::Exception" in str(e.value) and "\n" not in str(e.value)
    finally:
        chdb.close()
    assert backend_module.ChdbBackend is ChdbBackend
