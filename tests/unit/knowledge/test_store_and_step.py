"""The store (chdb, a real embedded ClickHouse) and one step's use of it: versions, syncs, replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.runtime import KnowledgeBase
from dana_workflows.knowledge.step import StepKnowledge
from dana_workflows.knowledge.store import CHUNK_COLUMNS, KnowledgeStore
from dana_workflows.knowledge.sync import sync
from dana_workflows.sinks.audit_model import QueryResult
from dana_workflows.workflow.knowledge_ir import StepKnowledgeIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: kb-test
input: {claim_id: string, policy_id: string}
knowledge:
  sources:
    - {id: policies, kind: files, path: policies, shape: [policy_id, limit_usd]}
    - {id: rates, kind: clickhouse, query: "SELECT 1 AS k, 'x' AS v", key: k}
steps:
  - assess:
      llm:
        prompt: "Claim {{ claim_id }} on policy {{ policy_id }}"
        output: {covered: boolean}
        knowledge:
          where: {policy_id: policy_id}
          budget: 800
          require:
            - {id: terms, source: policies, where: {policy_id: policy_id}, on_missing: recover,
               expose: {policy_limit_usd: {meta: limit_usd, type: double}}}
          mix_field: context_mix
          remember: [policy_id]
"""


def _policy(folder: Path, pid: str, limit: int) -> None:
    (folder / f"{pid}.md").write_text(
        f"---\npolicy_id: {pid}\nlimit_usd: {limit}\n---\n"
        f"# Policy {pid}\n\n## Terms\n\nPays at most {limit} USD.\n"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    s = KnowledgeStore.open(f"chdb://{tmp_path / 'kb'}")
    yield s
    s.close()


def _no_query(dsn: str | None) -> tuple[object, str]:
    def query(sql: str) -> QueryResult:
        raise RuntimeError("Code: 60. Unknown table")

    return query, "dwf"


def _rows_query(dsn: str | None) -> tuple[object, str]:
    def query(sql: str) -> QueryResult:
        return QueryResult(["k", "v"], [(1, "x"), (2, "y")])

    return query, "dwf"


def _ir(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "policies").mkdir(exist_ok=True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return parse_spec(SPEC, str(spec))


def test_sync_versions_history_and_a_failing_source(tmp_path: Path, store: KnowledgeStore) -> None:
    ir = _ir(tmp_path)
    _policy(tmp_path / "policies", "P-1", 5000)
    clock = Clock()
    first = sync(ir, store, _no_query, clock=clock)  # type: ignore[arg-type]
    assert set(first.synced) == {"policies"}
    assert "the query failed (Code: 60. Unknown table); fix the SQL or the DSN" in first.failed["rates"]
    again = sync(ir, store, _rows_query, clock=clock)  # type: ignore[arg-type]
    assert again.unchanged == ["policies"] and set(again.synced) == {"rates"}
    _policy(tmp_path / "policies", "P-1", 8000)
    third = sync(ir, store, _rows_query, clock=clock)  # type: ignore[arg-type]
    assert set(third.synced) == {"policies"}
    history = store.history("policies")
    assert len(history) == 2
    terms = "policies:P-1.md#terms"
    old, new = history[0].versions()[terms], history[1].versions()[terms]
    assert old != new
    versions = store.chunk_versions(terms)
    assert [c.version for c in versions] == [old, new]  # both kept: insert-only
    assert "5000" in versions[0].text and "8000" in versions[1].text
    with pytest.raises(KnowledgeError, match=r"unknown sources \['nope'\]"):
        sync(ir, store, _rows_query, only={"nope"})  # type: ignore[arg-type]


def test_a_sync_without_its_manifest_row_is_never_served(store: KnowledgeStore) -> None:
    ok = [make_chunk("s:a", "s", "served text", {})]
    store.record_sync("s", ok, {}, {}, 10)
    # a sync that died after writing its chunks and before its manifest row
    half = make_chunk("s:a", "s", "half written text", {})
    store.backend.insert(
        store.chunks_table, CHUNK_COLUMNS, [("s", half.chunk_id, half.version, half.text, "{}", 0, 20)]
    )
    _, chunks = store.snapshot()["s"]
    assert [c.text for c in chunks] == ["served text"]
    assert store.record_sync("s", ok, {}, {}, 30) is None  # same content: no new sync


def test_step_validates_assembles_exposes_and_replays(tmp_path: Path, store: KnowledgeStore) -> None:
    ir = _ir(tmp_path)
    _policy(tmp_path / "policies", "P-1", 5000)
    clock = Clock()
    sync(ir, store, _rows_query, clock=clock)  # type: ignore[arg-type]
    base = KnowledgeBase(store, refresh_s=0, clock=clock)
    step_ir = ir.steps[0].knowledge
    assert isinstance(step_ir, StepKnowledgeIR)
    step = StepKnowledge(step_ir, "kb-test", "assess", "gpt-4")
    payload = {"claim_id": "C-1", "policy_id": "P-1"}
    first = step.prepare(base, payload, "run-1", "Assess.", "Claim C-1 on policy P-1", clock())
    assert first.error is None
    assert "[policies:P-1.md#terms]" in first.context and "5000" in first.context
    extra, notes = step.settle(first, payload, {"covered": True})
    assert extra["policy_limit_usd"] == 5000.0
    assert extra["context_mix"].startswith("policies@")
    assert notes["dwf.memory"] == {"keys": {"policy_id": "P-1"}, "answer": {"covered": True}}
    assert first.details["dwf.knowledge.replayed"] is False
    used = dict(map(tuple, first.details["dwf.knowledge.chunks"]))

    # the policy changes; a new event sees the new terms, a replay of run-1 the old ones, flagged stale
    _policy(tmp_path / "policies", "P-1", 8000)
    sync(ir, store, _rows_query, clock=clock)  # type: ignore[arg-type]
    new = step.prepare(
        base, {"claim_id": "C-2", "policy_id": "P-1"}, "run-2", "Assess.", "Claim C-2", clock()
    )
    assert "8000" in new.context and "5000" not in new.context
    replay = step.prepare(base, payload, "run-1", "Assess.", "Claim C-1 on policy P-1", clock())
    assert replay.context == first.context
    assert replay.details["dwf.knowledge.replayed"] is True
    assert dict(map(tuple, replay.details["dwf.knowledge.chunks"])) == used
    assert (
        replay.details["dwf.knowledge.stale"] == ["terms"]
        and replay.details["dwf.knowledge.action"] == "flag"
    )
    assert replay.details["dwf.knowledge.syncs"] == first.details["dwf.knowledge.syncs"]
    assert step.settle(replay, payload, {"covered": True})[0]["policy_limit_usd"] == 5000.0

    # no policy document: the declared action (recover) makes no call and pins nothing
    missing = step.prepare(
        base, {"claim_id": "C-3", "policy_id": "P-404"}, "run-3", "Assess.", "Claim C-3", clock()
    )
    assert missing.error is not None and "required fact 'terms' is missing; no call made" in missing.error
    assert missing.details["dwf.knowledge.missing"] == ["terms"]
    assert store.pinned("kb-test", "assess", "run-3") is None
    assert json.dumps(missing.details)  # audit details are plain JSON


def test_a_budget_too_small_is_an_error_not_a_call(tmp_path: Path, store: KnowledgeStore) -> None:
    ir = _ir(tmp_path)
    _policy(tmp_path / "policies", "P-1", 5000)
    sync(ir, store, _rows_query)  # type: ignore[arg-type]
    step = StepKnowledge(StepKnowledgeIR(budget=10), "kb-test", "assess", "gpt-4")
    out = step.prepare(KnowledgeBase(store), {"policy_id": "P-1"}, "r", "A long instruction " * 10, "q", 1)
    assert out.error is not None and "smaller than the instructions" in out.error
