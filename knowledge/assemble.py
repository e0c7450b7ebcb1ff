"""Assembly: the chunks one llm call gets, chosen for relevance under a token budget split in sections.

1. Candidates: chunks of the step's sources that pass its declared filters (a chunk that carries a
   filtered metadata field must equal the event's value; chunks without the field stay eligible).
2. Required facts first: every chunk of a fact's source whose metadata match the fact's ``where``.
3. The rest by rank = BM25 relevance to the query (normalised to the best hit) weighted by quality
   (0.5 + 0.5 x score), +1 for a chunk that matched a filter field (it is about this very case).
4. Budget: ``output`` is reserved for the answer, the instructions (system, prompt, output schema) are
   counted exactly; examples and memory may use their shares; knowledge gets all that is left, so
   shares a section does not use are not wasted. Greedy by rank, skipping what does not fit, then the
   whole rendered context is counted again and the lowest-ranked chunks dropped until it fits: the
   budget holds for the exact text sent, with the counter in use.
5. Order within a section: best at the edges, weakest in the middle (lost in the middle): ranks
   1, 3, 5, ... from the top, 2, 4, 6, ... from the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.facts import Fact, find_fact
from dana_workflows.knowledge.index import Candidate, ChunkIndex, block
from dana_workflows.workflow.knowledge_ir import DEFAULT_SECTIONS

T = TypeVar("T")
CONTEXT_SECTIONS = ("knowledge", "examples", "memory")
HEADERS = {"knowledge": "## Knowledge\n", "examples": "## Examples\n", "memory": "## Earlier decisions\n"}
MESSAGE_OVERHEAD = 8  # chat framing of the system and user messages (OpenAI counts ~4 per message)
FILTER_BOOST = 1.0


class BudgetError(KnowledgeError):
    """The budget cannot hold the instructions and the answer: no context could ever be sent."""


@dataclass(slots=True)
class Assembled:
    sections: dict[str, list[Candidate]]  # in prompt order (edges first)
    text: dict[str, str]  # the rendered sections ("" when empty)
    tokens: dict[str, int]  # instructions, each section, context, reserve, total
    facts: dict[str, list[Candidate]] = field(default_factory=dict)  # fact id -> its chunks (selected)
    missing: list[str] = field(default_factory=list)  # fact ids with no chunk (or none that fits)

    @property
    def used(self) -> list[Candidate]:
        return [c for s in CONTEXT_SECTIONS for c in self.sections.get(s, [])]

    def context(self) -> str:
        return "".join(self.text[s] for s in CONTEXT_SECTIONS if self.text.get(s))


def edges_first(ranked: Sequence[T]) -> list[T]:
    """Best-first items laid out so the best sit at both ends and the weakest in the middle."""
    return [*ranked[0::2], *reversed(ranked[1::2])]


def render(section: str, chosen: Sequence[Candidate]) -> str:
    return HEADERS[section] + "".join(block(c.chunk) for c in chosen) if chosen else ""


class Assembler:
    def __init__(self, index: ChunkIndex, total: int, shares: Mapping[str, float] | None = None) -> None:
        self.index = index
        self.total = total
        self.shares = {**DEFAULT_SECTIONS, **(shares or {})}
        self.reserve = int(self.shares["output"] * total)

    def check_instructions(self, instructions: str, where: str) -> int:
        used = self.index.counter.count(instructions) + MESSAGE_OVERHEAD
        if used + self.reserve > self.total:
            raise BudgetError(
                f"{where}: the budget ({self.total} tokens) is smaller than the instructions ({used} tokens) "
                f"plus the answer's reserve ({self.reserve}); raise knowledge.budget or shorten the prompt"
            )
        return used

    def assemble(
        self,
        query: str,
        instructions: str,
        *,
        filters: Mapping[str, Any] | None = None,
        sources: frozenset[str] | None = None,
        facts: Sequence[Fact] = (),
        where: str = "llm step",
    ) -> Assembled:
        instr = self.check_instructions(instructions, where)
        avail = self.total - self.reserve - instr
        filters = filters or {}
        cands = self.index.candidates
        rank = self._rank(query, filters, sources)
        chosen: dict[int, Candidate] = {}
        section_used = dict.fromkeys(CONTEXT_SECTIONS, 0)
        spent = [0]  # all sections together (a cell: the helpers below add to it)
        header_cost = {s: self.index.counter.count(HEADERS[s]) for s in CONTEXT_SECTIONS}
        caps = {s: int(self.shares[s] * self.total) for s in ("examples", "memory")}
        required: set[int] = set()
        resolved: dict[str, list[Candidate]] = {}
        missing: list[str] = []

        def cost(c: Candidate) -> int:
            return c.tokens + (0 if section_used[c.role] else header_cost[c.role])

        def room(c: Candidate) -> bool:
            if spent[0] + cost(c) > avail:
                return False
            cap = caps.get(c.role)
            return cap is None or section_used[c.role] + cost(c) <= cap

        def take(c: Candidate) -> None:
            n = cost(c)
            section_used[c.role] += n
            spent[0] += n
            chosen[c.position] = c

        for fact in facts:
            hits = [cands[i] for i in find_fact(self.index, fact)]
            hits.sort(key=lambda c: -rank[c.position])
            got = []
            for c in hits:
                if c.position in chosen or spent[0] + cost(c) <= avail:
                    if c.position not in chosen:
                        take(c)
                    got.append(c)
                    required.add(c.position)
            resolved[fact.id] = got
            if not got:
                missing.append(fact.id)
        relevant = np.flatnonzero(rank > 0.0)
        order = relevant[np.argsort(-rank[relevant], kind="stable")]
        for i in order:
            if avail - spent[0] < self.index.min_tokens:
                break
            c = cands[int(i)]
            if c.position not in chosen and room(c):
                take(c)
        return self._fit(chosen, rank, required, instr, avail, resolved, missing)

    def _rank(self, query: str, filters: Mapping[str, Any], sources: frozenset[str] | None) -> np.ndarray:
        index = self.index
        raw = index.scores(query)
        top = float(raw.max()) if raw.size else 0.0
        rank = (raw / top if top > 0 else raw.copy()) * (0.5 + 0.5 * index.quality)
        excluded = np.zeros(len(rank), dtype=bool) if sources is None else ~index.in_sources(sources)
        matched = np.zeros(len(rank), dtype=bool)
        for name, value in filters.items():
            has, values = index.field(name)
            same = values == str(value)
            excluded |= has & ~same
            matched |= has & same
        rank[matched] += FILTER_BOOST
        rank[excluded] = -1.0
        return rank

    def _fit(
        self,
        chosen: dict[int, Candidate],
        rank: np.ndarray,
        required: set[int],
        instr: int,
        avail: int,
        resolved: dict[str, list[Candidate]],
        missing: list[str],
    ) -> Assembled:
        """Lay out the sections and count the exact text; drop the weakest optional chunks until it fits."""
        counter = self.index.counter
        while True:
            sections: dict[str, list[Candidate]] = {}
            for s in CONTEXT_SECTIONS:
                ranked = sorted((c for c in chosen.values() if c.role == s), key=lambda c: -rank[c.position])
                sections[s] = edges_first(ranked)
            text = {s: render(s, sections[s]) for s in CONTEXT_SECTIONS}
            context = counter.count("".join(text.values()))
            if context <= avail:
                break
            optional = [c for c in chosen.values() if c.position not in required] or list(chosen.values())
            weakest = min(optional, key=lambda c: rank[c.position])
            del chosen[weakest.position]
            for fact_id, got in resolved.items():
                if weakest in got:
                    got.remove(weakest)
                    if not got and fact_id not in missing:
                        missing.append(fact_id)
        filled = [s for s in CONTEXT_SECTIONS if text[s]]
        tokens = {s: 0 for s in CONTEXT_SECTIONS}
        if len(filled) == 1:
            tokens[filled[0]] = context  # counted already
        else:
            tokens.update({s: counter.count(text[s]) for s in filled})
        tokens.update(
            instructions=instr, context=context, reserve=self.reserve, total=instr + context + self.reserve
        )
        return Assembled(sections, text, tokens, resolved, missing)
