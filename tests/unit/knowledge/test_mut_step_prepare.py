"""One llm step's knowledge per event (knowledge/step.py), over a fake knowledge base (no store).

From the module docstring: required facts resolved from the event; ``recover`` (the default for a
missing fact) means no call and an error naming the fact, ``flag`` means call and say so; a fact is stale
when the version in use is not the latest, or its chunk was older than max_age at sync time (stale
flags by default); the first context of an input is pinned and every later run of it replays that one;
after the answer, exposed fields are cast to their declared types, the mix names each source's sync.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.core.run_ids import input_id
from dana_workflows.knowledge.chunks import Chunk, make_chunk
from dana_workflows.knowledge.index import ChunkIndex
from dana_workflows.knowledge.runtime import Snapshot
from dana_workflows.knowledge.step import StepKnowledge
from dana_workflows.knowledge.store import ContextUse, SyncRecord
from dana_workflows.workflow.knowledge_ir import ExposeIR, RequiredFactIR, StepKnowledgeIR

pytestmark = pytest.mark.unit


class Words:
    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())


class FakeStore:
    def __init__(self, pinned: ContextUse | None = None) -> None:
        self._pinned = pinned
        self.pins: list[tuple[str, str, str, ContextUse, int]] = []

    def pinned(self, workflow: str, step: str, run_id: str) -> ContextUse | None:
        return self._pinned

    def pin(self, workflow: str, step: str, run_id: str, use: ContextUse, ts_us: int) -> None:
        self.pins.append((workflow, step, run_id, use, ts_us))


class FakeBase:
    def __init__(self, chunks: list[Chunk], store: FakeStore, **snap: Any) -> None:
        self.store = store
        syncs = {"pol": SyncRecord("sync-pol-123456789", "pol", 1, ())}
        self.snapshot = Snapshot(
            syncs=syncs,
            chunks=chunks,
            roles={},
            quality={},
            freshness=snap.get("freshness", {}),
            latest=snap.get("latest", {c.chunk_id: c.version for c in chunks}),
        )
        self._index = ChunkIndex(chunks, Words())
        self.refreshed = 0

    def refresh(self) -> bool:
        self.refreshed += 1
        return False

    def index(self, model: str) -> ChunkIndex:
        return self._index

    def versions(self, refs: list[tuple[str, str, str]]) -> list[tuple[str, Chunk]]:
        by = {c.ref(): c for c in self.snapshot.chunks}
        return [(s, by[(cid, v)]) for s, cid, v in refs]


CHUNKS = [
    make_chunk("pol:P1", "pol", "Policy P1 pays at most 5000 USD", {"policy_id": "P1", "limit": "5000"}),
    make_chunk("pol:P2", "pol", "Policy P2 pays at most 9000 USD", {"policy_id": "P2", "limit": "9000"}),
]


def _ir(**kw: Any) -> StepKnowledgeIR:
    fact: dict[str, Any] = {
        "id": "policy",
        "source": "pol",
        "where": {"policy_id": "pid"},
        "expose": {"limit_usd": ExposeIR(meta="limit", type="long")},
    }
    fact.update(kw.pop("fact", {}))
    base: dict[str, Any] = {"budget": 400, "require": (RequiredFactIR(**fact),)}
    base.update(kw)
    return StepKnowledgeIR(**base)


def _prepare(sk: StepKnowledge, base: FakeBase, pid: str = "P1", run_id: str = "r1") -> Any:
    return sk.prepare(base, {"pid": pid}, run_id, "decide the claim", "claim for policy", 77)  # type: ignore[arg-type]


def test_a_found_fact_gives_a_context_its_audit_and_a_pin() -> None:
    store = FakeStore()
    base = FakeBase(CHUNKS, store)
    sk = StepKnowledge(_ir(), "wf", "judge", "no-such-model")
    p = _prepare(sk, base)
    assert p.error is None and base.refreshed == 1
    assert p.context.startswith("## Knowledge\n[pol:P1]\nPolicy P1 pays at most 5000 USD\n\n")
    d = p.details
    assert d["dwf.knowledge.chunks"][0] == ["pol:P1", CHUNKS[0].version]
    assert d["dwf.knowledge.syncs"] == {"pol": "sync-pol-123456789"}
    assert d["dwf.knowledge.counter"] == "words" and d["dwf.knowledge.replayed"] is False
    assert (
        "dwf.knowledge.missing" not in d
        and "dwf.knowledge.stale" not in d
        and "dwf.knowledge.action" not in d
    )
    assert p.mix == "pol@sync-pol"
    assert [(w, s, r, ts) for w, s, r, _, ts in store.pins] == [("wf", "judge", input_id("r1"), 77)]
    assert store.pins[0][3].layout[0] == ("knowledge", "pol:P1", CHUNKS[0].version)


def test_a_missing_fact_stops_the_call_by_default() -> None:
    store = FakeStore()
    p = _prepare(StepKnowledge(_ir(), "wf", "judge", "m"), FakeBase(CHUNKS, store), pid="P9")
    assert p.error == "workflow 'wf', llm step 'judge': required fact 'policy' is missing; no call made"
    assert p.details["dwf.knowledge.missing"] == ["policy"] and p.details["dwf.knowledge.action"] == "recover"
    assert store.pins == [] and p.context == ""


def test_a_missing_fact_declared_flag_calls_and_says_so() -> None:
    store = FakeStore()
    p = _prepare(
        StepKnowledge(_ir(fact={"on_missing": "flag"}), "wf", "judge", "m"), FakeBase(CHUNKS, store), pid="P9"
    )
    assert p.error is None and p.details["dwf.knowledge.action"] == "flag"
    assert p.details["dwf.knowledge.missing"] == ["policy"] and len(store.pins) == 1


@pytest.mark.parametrize(
    "snap",
    [{"latest": {"pol:P1": "newer"}}, {"freshness": {"pol:P1": 0.5}}],
    ids=["newer version", "older than max age"],
)
def test_a_stale_fact_flags_by_default_and_recovers_when_declared(snap: dict[str, Any]) -> None:
    flagged = _prepare(StepKnowledge(_ir(), "wf", "judge", "m"), FakeBase(CHUNKS, FakeStore(), **snap))
    assert flagged.error is None and flagged.details["dwf.knowledge.stale"] == ["policy"]
    assert flagged.details["dwf.knowledge.action"] == "flag"
    strict = StepKnowledge(_ir(fact={"on_stale": "recover"}), "wf", "judge", "m")
    stopped = _prepare(strict, FakeBase(CHUNKS, FakeStore(), **snap))
    assert stopped.error == "workflow 'wf', llm step 'judge': required fact 'policy' is stale; no call made"


def test_a_budget_too_small_is_an_error_not_a_call() -> None:
    p = _prepare(StepKnowledge(_ir(budget=5), "wf", "judge", "m"), FakeBase(CHUNKS, FakeStore()))
    assert p.error is not None and p.error.startswith(
        "workflow 'wf', llm step 'judge': the budget (5 tokens)"
    )
    assert p.details == {"dwf.knowledge.error": p.error}


def test_a_second_run_of_an_input_replays_the_pinned_context() -> None:
    pinned = ContextUse([("knowledge", "pol:P2", CHUNKS[1].version)], {"pol": "old-sync-000"})
    store = FakeStore(pinned)
    p = _prepare(StepKnowledge(_ir(), "wf", "judge", "m"), FakeBase(CHUNKS, store), pid="P2")
    assert p.error is None and store.pins == []
    assert p.details["dwf.knowledge.replayed"] is True
    assert p.details["dwf.knowledge.syncs"] == {"pol": "old-sync-000"}
    assert p.details["dwf.knowledge.chunks"] == [["pol:P2", CHUNKS[1].version]]
    assert p.context == "## Knowledge\n[pol:P2]\nPolicy P2 pays at most 9000 USD\n\n"
    assert p.mix == "pol@old-sync"


def test_settle_exposes_typed_fields_the_mix_and_what_to_remember() -> None:
    sk = StepKnowledge(_ir(mix_field="kb_mix", remember=("pid",)), "wf", "judge", "m")
    p = _prepare(sk, FakeBase(CHUNKS, FakeStore()))
    extra, notes = sk.settle(p, {"pid": "P1", "other": 1}, {"decision": "pay"})
    assert extra == {"limit_usd": 5000, "kb_mix": "pol@sync-pol"}
    assert notes == {"dwf.memory": {"keys": {"pid": "P1"}, "answer": {"decision": "pay"}}}
    missing = _prepare(
        StepKnowledge(_ir(fact={"on_missing": "flag"}), "wf", "judge", "m"),
        FakeBase(CHUNKS, FakeStore()),
        pid="P9",
    )
    assert StepKnowledge(_ir(fact={"on_missing": "flag"}), "wf", "judge", "m").settle(missing, {}, {}) == (
        {"limit_usd": None},
        {},
    )
