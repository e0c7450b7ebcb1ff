"""ClickHouse sources (a table or a SELECT) and the audit log's earlier decisions, read into chunks.

Both read through the audit store's own read-only path (``open_store``): a source can never write.
The audit source reads the rows an llm step wrote with ``knowledge.remember``: each earlier decision
becomes a chunk whose metadata hold the remembered fields, so a filter such as "same policy id"
selects that policy's history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dana_workflows.knowledge.chunks import Chunk, make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.records import record_chunks
from dana_workflows.sinks.audit_model import AUDIT_TABLE, QueryResult, sql_string
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

Query = Callable[[str], QueryResult]


def _run(source: KnowledgeSourceIR, query: Query, sql: str) -> QueryResult:
    try:
        return query(sql)
    except Exception as exc:  # the store's own errors (bad SQL, server down, not read-only)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KnowledgeError(
            f"source {source.id!r}: the query failed ({first}); fix the SQL or the DSN"
        ) from None


def read_table(source: KnowledgeSourceIR, query: Query) -> list[Chunk]:
    sql = source.query or f"SELECT * FROM {source.table}"
    result = _run(source, query, f"SELECT * FROM ({sql}) LIMIT {source.limit}")
    records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return record_chunks(source, records, source.table or "query")


def read_audit(source: KnowledgeSourceIR, query: Query, database: str, workflow: str) -> list[Chunk]:
    """Earlier decisions of `source.step`: one chunk per remembered answer, newest first."""
    sql = (
        f"SELECT run_id, ts_us, details FROM {database}.{AUDIT_TABLE} "
        f"WHERE workflow = {sql_string(source.workflow or workflow)} AND kind = 'emitted' "
        f"AND position(details, '\"dwf.memory\"') > 0 AND step LIKE {sql_string('%' + str(source.step))} "
        f"ORDER BY ts_us DESC LIMIT {source.limit}"
    )
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for run_id, ts_us, details in _run(source, query, sql).rows:
        memory: dict[str, Any] = json.loads(details).get("dwf.memory", {})
        keys = memory.get("keys", {})
        if source.by not in keys or run_id in seen:
            continue
        seen.add(str(run_id))
        when = datetime.fromtimestamp(int(ts_us) / 1e6, UTC).strftime("%Y-%m-%d")
        answer = ", ".join(f"{k}={v}" for k, v in memory.get("answer", {}).items())
        facts = ", ".join(f"{k}={v}" for k, v in keys.items())
        text = f"Earlier decision ({when}) for {facts}: {answer}"
        meta = {**{k: v for k, v in keys.items() if not isinstance(v, dict | list)}, "run_id": run_id}
        chunks.append(make_chunk(f"{source.id}:{run_id}", source.id, text, meta, int(ts_us)))
    return chunks
