"""Quality boundaries (knowledge/quality.py) and the sync report (sync.py), from their docstrings.

Freshness is 1 up to and including ``max_age_days``, then max_age / age; a source is low strictly below
0.5; completeness is the share of the declared shape fields present (empty text counts as missing);
a text's first copy across all sources is unique, later ones count half; the first line (the heading a
reader added) and whitespace do not make a copy different. Sync: unknown sources named with the
declared ones; a failing source is reported and the others synced; an unchanged source is listed as such.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.quality import LOW, ChunkQuality, SourceQuality, freshness, score_sources
from dana_workflows.knowledge.store import KnowledgeStore
from dana_workflows.knowledge.sync import sync
from dana_workflows.workflow.ir import FieldIR, WorkflowIR
from dana_workflows.workflow.knowledge_ir import KnowledgeIR, KnowledgeSourceIR

pytestmark = pytest.mark.unit

DAY = 86_400_000_000
NOW = 1000 * DAY


def _src(sid: str = "s", **kw: object) -> KnowledgeSourceIR:
    return KnowledgeSourceIR.model_validate({"id": sid, "path": "x", **kw})


def test_freshness_is_full_up_to_the_age_limit_inclusive_then_falls_as_limit_over_age() -> None:
    assert freshness(NOW - 10 * DAY, 10, NOW) == 1.0
    assert freshness(NOW - 20 * DAY, 10, NOW) == pytest.approx(0.5)
    assert freshness(NOW + 5 * DAY, 10, NOW) == 1.0  # a clock ahead of ours: age 0
    assert freshness(-1, 10, NOW) == 1.0


def test_low_is_strictly_below_one_half() -> None:
    assert LOW == 0.5
    assert not SourceQuality("s", 0.5).low
    assert SourceQuality("s", 0.4999).low


def test_completeness_is_the_share_of_shape_fields_present() -> None:
    chunks = [
        make_chunk("s:a", "s", "alpha", {"a": 1, "b": ""}),
        make_chunk("s:b", "s", "beta", {"a": 1, "b": 2}),
    ]
    q = score_sources({"s": _src(trust=1.0, shape=["a", "b"])}, {"s": chunks}, NOW)["s"]
    assert q.chunks["s:a"].completeness == 0.5 and q.chunks["s:a"].missing == ("b",)
    assert q.chunks["s:b"].completeness == 1.0
    assert q.score == pytest.approx(0.75)
    assert q.reasons == ("1 of 2 chunks miss shape fields (b)",)


def test_duplicates_count_across_sources_in_name_order() -> None:
    a = [make_chunk("a:1", "a", "Heading A\nThe  same BODY", {})]
    b = [make_chunk("b:1", "b", "Other heading\nthe same body", {})]
    q = score_sources({"a": _src("a", trust=1.0), "b": _src("b", trust=1.0)}, {"b": b, "a": a}, NOW)
    assert q["a"].chunks["a:1"].uniqueness == 1.0
    assert q["b"].chunks["b:1"].uniqueness == 0.5 and q["b"].score == 0.5 and not q["b"].low
    assert q["b"].reasons == ("1 of 1 chunks duplicate other chunks",)


def test_a_source_without_chunks_scores_zero_and_says_so() -> None:
    q = score_sources({"s": _src(trust=0.5)}, {"s": []}, NOW)["s"]
    assert q.score == 0.0 and q.low and q.reasons == ("no chunks",)


def test_quality_as_dict_rounds_scores_to_four_places() -> None:
    c = ChunkQuality(0.123456, 0.7, 0.333333, 0.666666, 1.0, ("x",))
    assert c.as_dict() == {
        "score": 0.1235,
        "trust": 0.7,
        "freshness": 0.3333,
        "completeness": 0.6667,
        "uniqueness": 1.0,
        "missing": ["x"],
    }
    s = SourceQuality("s", 0.456789, {"k": c}, ("r",))
    assert s.as_dict() == {"score": 0.4568, "low": True, "reasons": ["r"], "chunks": {"k": c.as_dict()}}


# -- sync ------------------------------------------------------------------------------------------------


def _ir(tmp_path: Path, *sources: KnowledgeSourceIR) -> WorkflowIR:
    return WorkflowIR(
        name="wf",
        input=(FieldIR(name="x", type="string"),),
        steps=(),
        knowledge=KnowledgeIR(sources=sources),
        source=str(tmp_path / "wf.yaml"),
    )


def _no_query(dsn: str | None) -> tuple[object, str]:
    raise AssertionError("no query source here")


def test_sync_stores_changed_sources_names_failures_and_lists_unchanged(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\nalpha text\n", encoding="utf-8")
    ir = _ir(tmp_path, _src("good", path="docs"), _src("bad", path="missing"))
    store = KnowledgeStore.open(f"chdb://{tmp_path / 'store'}")
    try:
        first = sync(ir, store, _no_query, clock=lambda: NOW)  # type: ignore[arg-type]
        assert sorted(first.synced) == ["good"] and first.unchanged == []
        assert list(first.failed) == ["bad"] and "bad" not in first.quality
        assert first.synced["good"].ts_us == NOW and first.quality["good"].score > 0
        again = sync(ir, store, _no_query, only={"good"}, clock=lambda: NOW + 1)  # type: ignore[arg-type]
        assert again.synced == {} and again.unchanged == ["good"] and again.failed == {}
        with pytest.raises(KnowledgeError) as e:
            sync(ir, store, _no_query, only={"nope", "good"})  # type: ignore[arg-type]
        assert str(e.value) == "unknown sources ['nope']; the spec declares ['bad', 'good']"
    finally:
        store.close()


def test_sync_reads_a_query_source_through_its_dsn_and_an_audit_source_from_the_audit_database(
    tmp_path: Path,
) -> None:
    from dana_workflows.sinks.audit_model import QueryResult

    asked: list[tuple[str | None, str]] = []

    def query_for(dsn: str | None) -> tuple[object, str]:
        def run(sql: str) -> QueryResult:
            asked.append((dsn, sql))
            if "FROM auditdb.events" in sql:
                details = '{"dwf.memory": {"keys": {"pid": "P1"}, "answer": {"d": "pay"}}}'
                return QueryResult(["run_id", "ts_us", "details"], [("r1", 0, details)])
            return QueryResult(["id", "v"], [("a", 1)])

        return run, "auditdb"

    table = KnowledgeSourceIR(id="tbl", kind="clickhouse", table="t", key="id", dsn="clickhouse://x@h:9000/d")
    memory = KnowledgeSourceIR(id="mem", kind="audit", step="judge", by="pid")
    ir = _ir(tmp_path, table, memory)
    store = KnowledgeStore.open(f"chdb://{tmp_path / 'store'}")
    try:
        report = sync(ir, store, query_for, clock=lambda: NOW)  # type: ignore[arg-type]
    finally:
        store.close()
    assert sorted(report.synced) == ["mem", "tbl"] and report.failed == {}
    assert asked[0] == ("clickhouse://x@h:9000/d", "SELECT * FROM (SELECT * FROM t) LIMIT 10000")
    assert asked[1][0] is None and "FROM auditdb.events WHERE workflow = 'wf'" in asked[1][1]
    assert report.synced["mem"].manifest[0][0] == "mem:r1"
