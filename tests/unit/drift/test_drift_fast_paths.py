"""The drift hot path's shortcuts give exactly what the plain definitions give."""

from __future__ import annotations

import random

import pytest

from dana_workflows.drift.divergence import compare, js_distance, psi
from dana_workflows.drift.features import (
    MAX_CATEGORY_CHARS,
    NULL_KEY,
    HashedTokens,
    bin_key,
    bin_keyer,
    category_key,
)
from dana_workflows.drift.windows import WindowDefinition, WindowTracker, event_time_us

pytestmark = pytest.mark.unit


class _Str(str):
    pass


def test_bin_keyer_matches_bin_key() -> None:
    edges = (-1.0, 0.0, 2.5, 10.0)
    key = bin_keyer(edges)
    values: list[object] = [-5.0, -1.0, 0.0, 1e-9, 2.5, 2.6, 10.0, 11.0, float("nan"), float("inf")]
    values += [float("-inf"), None, True, False, 3, -7, "2.0", "abc", [1]]
    for v in values:
        assert key(v) == bin_key(v, edges), v
    assert bin_keyer(())(1.5) == "0"


def test_category_key_fast_path_keeps_truncation() -> None:
    long = "x" * (MAX_CATEGORY_CHARS + 5)
    assert category_key(long) == "x" * MAX_CATEGORY_CHARS
    assert category_key("USD") == "USD"
    sub = category_key(_Str("EUR"))
    assert sub == "EUR" and type(sub) is str


def test_hashed_tokens_memo_gives_the_uncached_keys() -> None:
    words = ["water", "damage", "Über", "x", "a1", "__", "fire!", "roof"]
    rng = random.Random(5)
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 5))) for _ in range(300)]
    texts += ["", "!!", "y" * 300, "Roof ROOF roof"]
    memo = HashedTokens(16)
    for text in texts * 2:  # the second round is served from the memo
        fresh = HashedTokens(16)
        assert memo.keys(text) == fresh.keys(text), text
    assert memo.keys(None) == (NULL_KEY,)
    assert memo.keys(42) == HashedTokens(16).keys("42")
    assert memo.keys(_Str("water damage")) == memo.keys("water damage")


def test_hashed_tokens_memo_is_bounded() -> None:
    tokens = HashedTokens(8)
    for i in range(HashedTokens.TEXTS_MAX + 10):
        tokens.keys(f"text number {i}")
    assert len(tokens._texts) <= HashedTokens.TEXTS_MAX
    tokens.keys("z" * (HashedTokens.TEXT_CHARS + 1))
    assert "z" * (HashedTokens.TEXT_CHARS + 1) not in tokens._texts


def test_compare_is_psi_and_js_in_one_pass() -> None:
    rng = random.Random(2)
    for _ in range(50):
        a = {str(k): rng.randint(0, 30) for k in range(rng.randint(1, 12))}
        b = {str(k): rng.randint(0, 30) for k in range(rng.randint(1, 12))}
        if not sum(a.values()) or not sum(b.values()):
            continue
        total, js, terms = compare(a, b)
        result = psi(a, b)
        assert total == result.psi and js == js_distance(a, b)
        assert [(c.key, c.expected, c.actual, c.psi) for c in result.contributions] == terms


def test_tracker_place_matches_assign() -> None:
    for definition in (WindowDefinition.tumbling(10, 3), WindowDefinition.hopping(10, 5, 2)):
        fast = WindowTracker(definition, {}, "p|")
        plain = WindowTracker(definition, {}, "p|")
        rng = random.Random(4)
        for _ in range(500):
            t = rng.randint(-30, 2000)
            live, late = fast.place(t)
            assignment = plain.assign(t)
            assert (live, late) == (assignment.open, assignment.late)
            assert fast.advance(t) == plain.advance(t)


def test_event_time_of_an_int_field_is_exact() -> None:
    assert event_time_us(0, {"ts": 1767225629}, "ts") == 1767225629_000_000
    assert event_time_us(0, {"ts": 1.5}, "ts") == 1_500_000
    with pytest.raises(ValueError, match="expected epoch seconds"):
        event_time_us(0, {"ts": True}, "ts")
