"""The estimator must never count fewer tokens than the real BPE tables on text (budgets rest on it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.knowledge.tokens import BpeCounter, EstimatingCounter, counter_for

pytestmark = pytest.mark.unit

WORDS = st.sampled_from(
    [
        "policy",
        "P-1001",
        "pays",
        "at",
        "most",
        "5000",
        "USD",
        "deductible",
        "Überschwemmung",
        "naïve",
        "claims",
        "—",
        "€",
        "(",
        ")",
        "**",
        "##",
        "\n",
        "\n\n",
        "  ",
        "\t",
        "3c8a848b2e5a0e46",
        "2026-12-06",
        "x",
        "rhythm",
        "strengths",
        "東京",
        "🙂",
        "don't",
        "e.g.",
        "https://example.org/a?b=c",
        "1,234.56",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=80), st.sampled_from([" ", "", "\n"]))
def test_estimate_never_below_cl100k_or_o200k(words: list[str], sep: str) -> None:
    text = sep.join(words)
    est = EstimatingCounter().count(text)
    for name in ("cl100k_base", "o200k_base"):
        assert est >= counter_for(name).count(text), (name, text)


def test_letter_soup_counts_one_token_per_letter() -> None:
    # no vowels: nothing says BPE merges these letters, so the estimate takes the upper bound
    assert EstimatingCounter().count("zxqvbnm") == 7
    assert EstimatingCounter().count("claims") == 3  # a word: two letters a token
    assert EstimatingCounter().count("information") == 6
    glued = "paysat"  # found by hypothesis in CI: 3 tokens in cl100k
    assert EstimatingCounter().count(glued) >= counter_for("cl100k_base").count(glued) == 3


def test_known_models_get_their_bpe_unknown_get_the_estimator() -> None:
    assert isinstance(counter_for("gpt-4o"), BpeCounter)
    assert counter_for("gpt-4o").name == "o200k_base"
    assert counter_for("gpt-4").name == "cl100k_base"
    assert isinstance(counter_for("dwf-test-model"), EstimatingCounter)


def test_special_token_text_is_counted_as_text() -> None:
    assert counter_for("gpt-4").count("<|endoftext|>") > 1
