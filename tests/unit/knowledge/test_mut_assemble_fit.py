"""Assembly's last step (knowledge/assemble.py): the whole rendered context is counted again and the
lowest-ranked optional chunks are dropped until it fits; required facts go last, and a fact whose only
chunk had to go is then missing. Shares: examples and memory keep to their caps, knowledge takes the rest.

A counter whose count of a whole text is more than the sum of its parts (as real BPE counts can be at
the seams) makes the re-count matter: here a text over 60 characters costs 500 tokens more.
"""

from __future__ import annotations

import pytest

from dana_workflows.knowledge.assemble import Assembler
from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.facts import Fact
from dana_workflows.knowledge.index import ChunkIndex

pytestmark = pytest.mark.unit


class Seams:
    name = "seams"

    def count(self, text: str) -> int:
        return len(text.split()) + (500 if len(text) > 60 else 0)


# each chunk renders as a 25-character block; the header "## Knowledge\n" is 13: one chunk fits in 60
CHUNKS = [
    make_chunk("k:a", "k", "alpha alpha alpha", {"id": "a"}),
    make_chunk("k:b", "k", "alpha beta gamma1", {"id": "b"}),
    make_chunk("k:c", "k", "alpha delta gamma", {"id": "c"}),
]


def _assembler() -> Assembler:
    return Assembler(ChunkIndex(CHUNKS, Seams()), 300)  # 261 tokens for context: never 500 more


def test_the_weakest_chunks_go_until_the_rendered_context_fits() -> None:
    out = _assembler().assemble("alpha", "q")
    assert [c.chunk.chunk_id for c in out.used] == ["k:a"]  # the best-ranked one stays
    assert out.tokens["context"] == Seams().count(out.context()) and len(out.context()) <= 60
    assert out.tokens["knowledge"] == out.tokens["context"]
    assert out.missing == []


def test_a_required_fact_stays_and_optional_chunks_go_first() -> None:
    out = _assembler().assemble("alpha", "q", facts=[Fact("c_fact", "k", {"id": "c"})])
    assert [c.chunk.chunk_id for c in out.used] == ["k:c"]
    assert [c.chunk.chunk_id for c in out.facts["c_fact"]] == ["k:c"] and out.missing == []


def test_when_only_required_chunks_are_left_the_weakest_goes_and_its_fact_is_missing() -> None:
    facts = [Fact("a_fact", "k", {"id": "a"}), Fact("b_fact", "k", {"id": "b"})]
    out = _assembler().assemble("alpha", "q", facts=facts)
    assert [c.chunk.chunk_id for c in out.used] == ["k:a"]
    assert out.facts["b_fact"] == [] and out.missing == ["b_fact"]


class Words:
    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())


def test_examples_keep_to_their_share_and_knowledge_takes_what_is_left() -> None:
    chunks = [make_chunk(f"ex:{i}", "ex", f"example {i} " + "word " * 8, {}) for i in range(5)] + [
        make_chunk(f"kb:{i}", "kb", f"example fact {i} " + "word " * 8, {}) for i in range(5)
    ]
    index = ChunkIndex(chunks, Words(), roles={"ex": "examples"})
    # total 100: reserve 10, instructions 1 + 8, so 81 for context. Examples are capped at 25: their
    # header is 2 and each block 11 (13 + 11 = 24 fits, a third does not). Knowledge takes the other
    # 57: header 2, blocks of 12 (14 + 12 + 12 + 12 = 50 fits, a fifth does not).
    out = Assembler(index, 100).assemble("example", "q")
    assert out.tokens["examples"] == 24 and len(out.sections["examples"]) == 2
    assert len(out.sections["knowledge"]) == 4 and out.tokens["knowledge"] == 50
    assert out.tokens["instructions"] + out.tokens["context"] + out.tokens["reserve"] == 9 + 74 + 10
