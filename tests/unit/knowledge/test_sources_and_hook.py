"""Query sources (table rows, the audit's remembered decisions), the worker's base, the llm step's hook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.query_source import read_audit, read_table
from dana_workflows.knowledge.runtime import KnowledgeBase, base_for, close_bases
from dana_workflows.knowledge.store import KnowledgeStore
from dana_workflows.processors.base import Outcome
from dana_workflows.processors.llm.knowledge_hook import LLMKnowledge
from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.prompt import PromptTemplate
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import QueryResult
from dana_workflows.workflow.ir import FieldIR, LLMStepIR
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit


def test_table_rows_become_records_and_a_failing_query_names_the_fix() -> None:
    src = KnowledgeSourceIR(id="rates", kind="clickhouse", table="fx.rates", key="code", limit=5)
    seen: list[str] = []

    def query(sql: str) -> QueryResult:
        seen.append(sql)
        return QueryResult(["code", "rate"], [("EUR", 1.1), ("GBP", 1.25)])

    chunks = read_table(src, query)
    assert seen == ["SELECT * FROM (SELECT * FROM fx.rates) LIMIT 5"]
    assert [c.chunk_id for c in chunks] == ["rates:EUR", "rates:GBP"] and chunks[1].meta["rate"] == 1.25

    def failing(sql: str) -> QueryResult:
        raise RuntimeError("Code: 62. Syntax error")

    with pytest.raises(KnowledgeError, match=r"source 'rates': the query failed \(Code: 62. Syntax error\)"):
        read_table(src, failing)


def test_audit_rows_that_remember_become_earlier_decisions() -> None:
    src = KnowledgeSourceIR(id="history", kind="audit", step="assess", by="policy_id")
    memory = {"dwf.memory": {"keys": {"policy_id": "P-1"}, "answer": {"covered": True}}}
    rows = [
        ("run-2", 1_700_000_100_000_000, json.dumps(memory)),
        ("run-1", 1_700_000_000_000_000, json.dumps(memory)),
        ("run-1", 1_699_000_000_000_000, json.dumps(memory)),  # an earlier row of the same run: once
        ("run-3", 1_700_000_000_000_000, json.dumps({"dwf.memory": {"keys": {"other": 1}}})),  # no `by`
    ]
    sqls: list[str] = []

    def query(sql: str) -> QueryResult:
        sqls.append(sql)
        return QueryResult(["run_id", "ts_us", "details"], rows)

    chunks = read_audit(src, query, "dwf", "policy-claims")
    assert [c.chunk_id for c in chunks] == ["history:run-2", "history:run-1"]
    assert chunks[0].meta == {"policy_id": "P-1", "run_id": "run-2"}
    assert chunks[0].text == "Earlier decision (2023-11-14) for policy_id=P-1: covered=True"
    assert "workflow = 'policy-claims'" in sqls[0] and "LIMIT 10000" in sqls[0]


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    s = KnowledgeStore.open(f"chdb://{tmp_path / 'kb'}")
    yield s
    s.close()


def test_the_base_reloads_only_after_refresh_s_and_a_newer_sync(store: KnowledgeStore) -> None:
    store.record_sync("s", [make_chunk("s:a", "s", "alpha", {})], {}, {"role": "memory"}, 1)
    clock = Clock()
    base = KnowledgeBase(store, refresh_s=10, clock=clock)
    assert base.index("gpt-4").candidates[0].role == "memory"
    store.record_sync("s", [make_chunk("s:a", "s", "beta", {})], {}, {}, 2)
    clock.now = 5_000_000
    assert base.refresh() is False  # within refresh_s: not even asked
    clock.now = 20_000_000
    assert base.refresh() is True
    assert base.index("gpt-4").candidates[0].chunk.text == "beta"
    clock.now = 40_000_000
    assert base.refresh() is False  # asked, nothing newer


def test_one_base_per_store_and_process(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'kb2'}"
    try:
        assert base_for(dsn) is base_for(dsn)
    finally:
        close_bases()


def _step() -> LLMStepIR:
    return LLMStepIR.model_validate(
        {
            "name": "assess",
            "prompt": "Claim {{ claim_id }} on policy {{ policy_id }}",
            "output": (FieldIR(name="covered", type="boolean"),),
            "knowledge": {
                "where": {"policy_id": "policy_id"},
                "budget": 600,
                "require": [
                    {
                        "id": "terms",
                        "source": "pol",
                        "where": {"policy_id": "policy_id"},
                        "expose": {"limit": {"meta": "limit_usd", "type": "double"}},
                    }
                ],
            },
        }
    )


def _env(pid: str, run: str) -> Envelope:
    return Envelope(f"{run}/x", run, "wf", 1, "x", {"claim_id": "C", "policy_id": pid})


def test_the_hook_puts_the_context_before_the_prompt_and_settles_after(store: KnowledgeStore) -> None:
    store.record_sync(
        "pol",
        [make_chunk("pol:P-1#terms", "pol", "P-1 pays at most 5 USD", {"policy_id": "P-1", "limit_usd": 5})],
        {},
        {},
        1,
    )
    step = _step()
    hook = LLMKnowledge(step, "wf", base=KnowledgeBase(store), clock=lambda: 7)
    assert LLMKnowledge.of(step.model_copy(update={"knowledge": None}), "wf") is None
    template = PromptTemplate(step.prompt)
    output = OutputSpec(step.output, "wf_assess")
    env = _env("P-1", "run-1")
    rendered = template.render(env.payload)
    final = hook.attach(env, rendered, output)
    assert not isinstance(final, Outcome)
    assert final.user.startswith("## Knowledge\n[pol:P-1#terms]\nP-1 pays at most 5 USD")
    assert final.user.endswith(rendered.user) and final.hash != rendered.hash
    extra, notes = hook.settle(env, final, {"covered": True})
    assert extra == {"limit": 5.0}
    assert notes["dwf.knowledge.chunks"] == [["pol:P-1#terms", notes["dwf.knowledge.chunks"][0][1]]]
    assert hook.settle(env, final, {"covered": True}) == ({}, {})  # settled once

    missing = hook.attach(_env("P-9", "run-2"), template.render(_env("P-9", "run-2").payload), output)
    assert isinstance(missing, Outcome) and missing.error is not None
    assert "required fact 'terms' is missing" in missing.error


def test_a_broken_store_fails_the_event_not_the_worker(tmp_path: Path) -> None:
    class Broken:
        def refresh(self) -> bool:
            raise KnowledgeError("knowledge store chdb://x: gone")

    hook = LLMKnowledge(_step(), "wf", base=Broken())  # type: ignore[arg-type]
    env = _env("P-1", "r")
    out = hook.attach(env, PromptTemplate("q").render({}), OutputSpec(_step().output, "o"))
    assert isinstance(out, Outcome) and out.error is not None and "gone" in out.error
