"""The audit knowledge source (knowledge/query_source.py): the SQL's filter on details is textual
(position(details, '"dwf.memory"')), so a row can pass it without a top-level memory entry; such a row is
not an earlier decision and is skipped, never a failure."""

from __future__ import annotations

import json

import pytest

from dana_workflows.knowledge.query_source import read_audit
from dana_workflows.sinks.audit_model import QueryResult
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit


def test_a_row_that_only_mentions_dwf_memory_deeper_down_is_skipped() -> None:
    src = KnowledgeSourceIR(id="mem", kind="audit", step="risk", by="policy_id")
    remembered = {"dwf.memory": {"keys": {"policy_id": "P1"}, "answer": {"risk": "low"}}}
    rows = [
        ("r2", 0, json.dumps({"note": {"dwf.memory": {"keys": {"policy_id": "P9"}}}})),
        ("r1", 0, json.dumps(remembered)),
    ]

    def query(sql: str) -> QueryResult:
        return QueryResult(["run_id", "ts_us", "details"], rows)

    chunks = read_audit(src, query, "dwf", "claims")
    assert [(c.chunk_id, c.text) for c in chunks] == [
        ("mem:r1", "Earlier decision (1970-01-01) for policy_id=P1: risk=low")
    ]
