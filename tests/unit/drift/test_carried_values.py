"""A monitored value an event carries (the Kafka runtime's drift header) is bounded, and the monitor
counts it exactly as the value itself (drift/features.carried_value; issue 12: headers must not copy the
payload)."""

from __future__ import annotations

import random

import pytest

from dana_workflows.drift.features import MAX_CATEGORY_CHARS, HashedTokens, carried_value, category_key

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("buckets", [8, 32, 256])
def test_a_huge_text_is_carried_as_a_few_tokens_with_the_same_keys(buckets: int) -> None:
    rng = random.Random(buckets)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 9))) for _ in range(120_000)]
    text = " ".join(words).title() + " Ünïcode ÉCLAIR"
    assert len(text) > 600_000
    carried = carried_value(text, "text", buckets)
    assert len(carried) <= 6 * buckets
    assert HashedTokens(buckets).keys(carried) == HashedTokens(buckets).keys(text)


def test_short_values_and_numbers_are_carried_as_they_are() -> None:
    assert carried_value("water damage", "text", 32) == "water damage"
    assert carried_value(12.5, "numeric", 32) == 12.5
    assert carried_value("x" * 300, "numeric", 32) == "x" * 300  # not a string feature: untouched
    assert carried_value("!! ??" * 100, "text", 32) == ""  # no tokens: the same <empty> key
    assert HashedTokens(32).keys("") == HashedTokens(32).keys("!! ??" * 100)


def test_a_long_category_keeps_the_characters_it_is_keyed_by() -> None:
    value = "c" * 50_000
    carried = carried_value(value, "categorical", 32)
    assert len(carried) == MAX_CATEGORY_CHARS + 1
    assert category_key(carried) == category_key(value)
