"""Assembly: required facts first, filters, the budget held on the exact text, best at the edges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.knowledge.assemble import MESSAGE_OVERHEAD, Assembler, BudgetError, edges_first
from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.facts import Fact
from dana_workflows.knowledge.index import ChunkIndex
from dana_workflows.knowledge.tokens import EstimatingCounter, counter_for
from tests.unit.knowledge.helpers import policy_chunks

pytestmark = pytest.mark.unit

INSTRUCTIONS = "You check claims against the policy terms. Answer in JSON.\nClaim on policy P-1007: water."


def test_required_fact_and_filter_pick_the_claims_own_policy() -> None:
    index = ChunkIndex(policy_chunks(), counter_for("gpt-4"))
    out = Assembler(index, 400).assemble(
        "water damage claim",
        INSTRUCTIONS,
        filters={"policy_id": "P-1007"},
        facts=[Fact("terms", "policies", {"policy_id": "P-1007", "section": "terms"})],
    )
    ids = [c.chunk.chunk_id for c in out.used]
    assert "policies:P-1007.md#terms" in ids
    assert "guidelines:water.md#evidence" in ids
    assert not [i for i in ids if i.startswith("policies:") and "P-1007" not in i]  # no other policy's text
    assert out.missing == []
    assert [c.chunk.chunk_id for c in out.facts["terms"]] == ["policies:P-1007.md#terms"]


def test_a_fact_with_no_chunk_is_missing() -> None:
    index = ChunkIndex(policy_chunks(), counter_for("gpt-4"))
    out = Assembler(index, 400).assemble(
        "claim", INSTRUCTIONS, facts=[Fact("terms", "policies", {"policy_id": "P-9999"})]
    )
    assert out.missing == ["terms"]


def test_sources_limit_the_candidates() -> None:
    index = ChunkIndex(policy_chunks(), counter_for("gpt-4"))
    out = Assembler(index, 2000).assemble("water policy", INSTRUCTIONS, sources=frozenset({"guidelines"}))
    assert out.used and {c.chunk.source for c in out.used} == {"guidelines"}


def test_budget_smaller_than_the_instructions_names_the_fix() -> None:
    index = ChunkIndex(policy_chunks(), counter_for("gpt-4"))
    with pytest.raises(BudgetError, match=r"budget \(20 tokens\) is smaller than the instructions"):
        Assembler(index, 20).assemble("x", INSTRUCTIONS, where="llm step 'assess'")


def test_best_at_the_edges_weakest_in_the_middle() -> None:
    ranked = list(range(1, 8))  # 1 is the best
    assert edges_first(ranked) == [1, 3, 5, 7, 6, 4, 2]


def test_examples_and_memory_keep_to_their_shares_knowledge_takes_the_rest() -> None:
    chunks = [
        *(make_chunk(f"ex:{i}", "ex", f"example claim water {i} " * 8, {}) for i in range(20)),
        *(make_chunk(f"kb:{i}", "kb", f"water damage rule {i} " * 8, {}) for i in range(40)),
    ]
    index = ChunkIndex(chunks, counter_for("gpt-4"), roles={"ex": "examples"})
    asm = Assembler(index, 1000, {"examples": 0.1, "memory": 0.25})
    out = asm.assemble("water", "Assess.")
    assert out.tokens["examples"] <= 100
    assert out.tokens["knowledge"] > 400  # more than its 40%: the unused memory share went to knowledge
    assert out.tokens["total"] <= 1000


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(min_value=120, max_value=3000),
    n=st.integers(min_value=1, max_value=60),
    words=st.integers(min_value=1, max_value=120),
    model=st.sampled_from(["gpt-4", "gpt-4o", "dwf-test-model"]),
)
def test_the_budget_is_never_exceeded(budget: int, n: int, words: int, model: str) -> None:
    chunks = [
        make_chunk(f"s:{i}", "s", " ".join(f"claim{i} water policy" for _ in range(words)), {})
        for i in range(n)
    ]
    counter = counter_for(model)
    asm = Assembler(ChunkIndex(chunks, counter), budget)
    out = asm.assemble("water claim policy", "Assess the claim.")
    used = counter.count("Assess the claim.") + MESSAGE_OVERHEAD + counter.count(out.context())
    assert used + asm.reserve <= budget
    if isinstance(counter, EstimatingCounter):  # the estimator's promise: the real tables count no more
        for name in ("cl100k_base", "o200k_base"):
            assert counter_for(name).count(out.context()) <= counter.count(out.context())
