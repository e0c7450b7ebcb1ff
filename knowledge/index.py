"""A searchable snapshot: the chunks in use, their BM25 index (bm25s), metadata and token costs.

Built once per snapshot (a worker rebuilds it when a sync changes a source it reads), then queried
per event: ``scores`` is one sparse BM25 pass over the query's terms, fast at 10,000 chunks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
from bm25s.tokenization import STOPWORDS_EN

from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.knowledge.tokens import TokenCounter

_WORDS = re.compile(r"\w+(?:[-./]\w+)*")
_STOP = frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-case words without stop words; a compound (P-1001, v2.3) counts whole and by its parts."""
    out: list[str] = []
    for word in _WORDS.findall(text.lower()):
        if word in _STOP:
            continue
        out.append(word)
        if not word.isalnum():
            out.extend(p for p in re.split(r"[-./]", word) if p and p not in _STOP)
    return out


def block(chunk: Chunk) -> str:
    """How a chunk appears in the prompt: its id (the model can cite it), then its text."""
    return f"[{chunk.chunk_id}]\n{chunk.text}\n\n"


@dataclass(frozen=True, slots=True)
class Candidate:
    position: int
    chunk: Chunk
    role: str  # the section it fills: knowledge, examples or memory
    quality: float
    tokens: int  # cost of its block with the index's counter


class ChunkIndex:
    def __init__(
        self,
        chunks: Sequence[Chunk],
        counter: TokenCounter,
        roles: Mapping[str, str] | None = None,
        quality: Mapping[str, float] | None = None,
    ) -> None:
        roles = roles or {}
        quality = quality or {}
        self.counter = counter
        self.candidates = [
            Candidate(
                i, c, roles.get(c.source, "knowledge"), quality.get(c.chunk_id, 1.0), counter.count(block(c))
            )
            for i, c in enumerate(chunks)
        ]
        self.by_source: dict[str, list[int]] = {}
        for cand in self.candidates:
            self.by_source.setdefault(cand.chunk.source, []).append(cand.position)
        self._bm25 = bm25s.BM25()
        corpus = [terms(c.text) or ["<empty>"] for c in chunks]
        self._empty = not chunks
        if chunks:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = set(self._bm25.vocab_dict) if chunks else set()
        self.quality = np.fromiter((c.quality for c in self.candidates), dtype=np.float32, count=len(chunks))
        self._codes = {name: n for n, name in enumerate(dict.fromkeys(c.source for c in chunks))}
        self._sources = np.array([self._codes[c.source] for c in chunks], dtype=np.int32)
        self._fields: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.min_tokens = min((c.tokens for c in self.candidates), default=0)

    def in_sources(self, sources: frozenset[str]) -> np.ndarray:
        """A boolean mask: the chunks of `sources`."""
        return np.isin(self._sources, [self._codes[s] for s in sources if s in self._codes])

    def field(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(which chunks carry metadata field `name`, its values as text): built once per field."""
        if name not in self._fields:
            has = np.array([name in c.chunk.meta for c in self.candidates], dtype=bool)
            values = np.array([str(c.chunk.meta.get(name, "")) for c in self.candidates], dtype=str)
            self._fields[name] = (has, values)
        return self._fields[name]

    def __len__(self) -> int:
        return len(self.candidates)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros when no query term is known)."""
        if self._empty:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in terms(query) if t in self._vocab]
        if not known:
            return np.zeros(len(self.candidates), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
