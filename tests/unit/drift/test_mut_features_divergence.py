"""Drift keys and distances (drift/features.py, drift/divergence.py), with values worked by hand.

PSI = sum (a - e) ln(a / e) over shares (eps = 0: unsmoothed); JS distance base 2 lies in [0, 1] (1 for
disjoint supports); the null PSI of two samples of one distribution is (1/n + 1/m) * chi2(bins - 1):
mean dof * scale, sd sqrt(2 dof) * scale; min_events solves mean + 5 sd < warn with n = m.
"""

from __future__ import annotations

import math

import pytest

from dana_workflows.drift.divergence import compare, js_distance, min_events, null_psi, psi
from dana_workflows.drift.features import (
    EMPTY_KEY,
    INVALID_KEY,
    MAX_CATEGORY_CHARS,
    NULL_KEY,
    OTHER_KEY,
    HashedTokens,
    LogSketch,
    as_number,
    bin_key,
    bin_keyer,
    bin_label,
    bucket_label,
    carried_value,
    category_key,
    token_bucket,
)

pytestmark = pytest.mark.unit


# -- distances ---------------------------------------------------------------------------------------------


def test_unsmoothed_psi_by_hand() -> None:
    # shares (0.5, 0.5) -> (0.75, 0.25): 0.25 ln 1.5 + (-0.25) ln 0.5
    r = psi({"a": 1, "b": 1}, {"a": 3, "b": 1}, eps=0.0)
    assert r.psi == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2.0))
    assert [c.key for c in r.contributions] == ["a", "b"]
    assert [(c.expected, c.actual) for c in r.contributions] == [(0.5, 0.75), (0.5, 0.25)]
    assert r.contributions[0].psi == pytest.approx(0.25 * math.log(1.5))
    assert all(c.psi >= 0 for c in r.contributions)


def test_identical_distributions_are_zero_apart() -> None:
    assert psi({"a": 2, "b": 6}, {"a": 1, "b": 3}).psi == pytest.approx(0.0, abs=1e-15)
    assert js_distance({"a": 2, "b": 6}, {"a": 1, "b": 3}) == pytest.approx(0.0, abs=1e-7)


def test_disjoint_supports_are_one_apart_in_js_and_far_in_smoothed_psi() -> None:
    assert js_distance({"a": 5}, {"b": 5}) == pytest.approx(1.0)
    # JS of (1, 0) vs (0.5, 0.5): m = (0.75, 0.25); 0.5 * log2(1/0.75) + 0.5 * 0.5 * log2(0.5/0.75)
    #                                               + 0.5 * 0.5 * log2(0.5/0.25)
    div = 0.5 * math.log2(1 / 0.75) + 0.25 * math.log2(0.5 / 0.75) + 0.25 * math.log2(2.0)
    assert js_distance({"a": 2}, {"a": 1, "b": 1}) == pytest.approx(math.sqrt(div))
    smoothed = psi({"a": 5}, {"b": 5}).psi
    assert smoothed > 10.0 and math.isfinite(smoothed)


def test_without_smoothing_an_empty_bin_on_one_side_is_an_error_on_both_none() -> None:
    with pytest.raises(ValueError, match="bin 'b' is empty on one side; PSI needs eps > 0"):
        psi({"a": 1}, {"a": 1, "b": 1}, eps=0.0)
    assert psi({"a": 1, "z": 0}, {"a": 2, "z": 0}, eps=0.0).psi == 0.0


def test_an_empty_or_negative_distribution_is_refused_by_side() -> None:
    with pytest.raises(ValueError, match="reference distribution is empty: nothing to compare"):
        compare({}, {"a": 1})
    with pytest.raises(ValueError, match="window distribution is empty"):
        compare({"a": 1}, {"a": 0})
    with pytest.raises(ValueError, match="window distribution has a negative count"):
        compare({"a": 1}, {"a": 2, "b": -1})


def test_compare_gives_psi_js_and_terms_of_the_same_pass() -> None:
    total, js, terms = compare({"a": 1, "b": 3}, {"a": 3, "b": 1, "c": 0})
    assert total == pytest.approx(psi({"a": 1, "b": 3}, {"a": 3, "b": 1, "c": 0}).psi)
    assert js == pytest.approx(js_distance({"a": 1, "b": 3}, {"a": 3, "b": 1}))
    assert [t[0] for t in terms] == ["a", "b", "c"]
    assert terms[2][1:3] == (0.0, 0.0)


def test_the_null_psi_and_the_fewest_events_for_a_warn_line() -> None:
    mean, sd = null_psi(11, 100, 100)
    assert mean == pytest.approx(10 * 0.02) and sd == pytest.approx(math.sqrt(20) * 0.02)
    assert null_psi(1, 10, 10) == pytest.approx((0.2, math.sqrt(2) * 0.2))  # at least one degree
    assert null_psi(0, 10, 10) == null_psi(2, 10, 10)
    # bins 10, warn 0.1: 2 (9 + 5 sqrt 18) / 0.1 = 604.26... -> 605
    assert min_events(10, 0.1) == 605
    assert min_events(1, 0.5) == math.ceil(2 * (1 + 5 * math.sqrt(2)) / 0.5)
    assert min_events(10, 0.1, sigmas=0.0) == 180


# -- keys -------------------------------------------------------------------------------------------------


def test_category_keys() -> None:
    assert category_key("x") == "x"
    assert category_key(None) == NULL_KEY
    assert category_key(True) == "true" and category_key(False) == "false"
    assert category_key(5) == "5"
    exact = "a" * MAX_CATEGORY_CHARS
    assert category_key(exact) == exact
    assert category_key(exact + "b") == exact


def test_numbers_are_finite_floats_or_nothing() -> None:
    assert as_number(True) == 1.0 and as_number(False) == 0.0
    assert as_number(3) == 3.0 and as_number("3.5") == 3.5
    for bad in ("x", None, float("nan"), float("inf"), "-inf", [1]):
        assert as_number(bad) is None
    # an int past a float's range has no finite float: None, not an OverflowError out of the drift agent
    assert as_number(10**400) is None and as_number(-(10**400)) is None
    assert as_number(2**1023) == float(2**1023)


def test_the_fast_keyer_agrees_with_bin_key_and_names_the_specials() -> None:
    edges = (1.0, 2.0)
    key = bin_keyer(edges)
    for v in (0.5, 1.0, 1.5, 2.0, 2.5, 1, 2, "1.5", None, "x", float("nan"), True):
        assert key(v) == bin_key(v, edges)
    assert key(None) == NULL_KEY and key("x") == INVALID_KEY and key(float("nan")) == INVALID_KEY
    assert key(1.0) == "0" and key(2.0) == "1" and key(2.0000001) == "2"


def test_bin_labels_are_right_closed_and_open_at_the_ends() -> None:
    edges = (1.5, 40.0)
    assert bin_label("0", edges) == "(-inf, 1.5]"
    assert bin_label("1", edges) == "(1.5, 40]"
    assert bin_label("2", edges) == "(40, inf)"
    assert bin_label(NULL_KEY, edges) == NULL_KEY and bin_label(OTHER_KEY, edges) == OTHER_KEY
    assert bucket_label("7") == "bucket 7" and bucket_label(EMPTY_KEY) == EMPTY_KEY


def test_the_log_sketch_buckets_by_powers_of_gamma() -> None:
    with pytest.raises(ValueError, match="gamma must be > 1"):
        LogSketch(gamma=1.0)
    s = LogSketch(gamma=2.0, tiny=0.001)
    assert s.key(1.0) == "p0" and s.key(2.0) == "p1" and s.key(3.0) == "p2" and s.key(4.0) == "p2"
    assert s.key(-1.0) == "n0" and s.key(-3.0) == "n1"
    assert s.key(0.0) == "z" and s.key(0.001) == "z" and s.key(-0.001) == "z"
    assert s.key(None) == NULL_KEY and s.key("x") == INVALID_KEY
    assert s.upper("p2") == 4.0 and s.upper("n1") == -2.0 and s.upper("z") == 0.001


def test_quantile_edges_and_folding_are_exact_over_buckets() -> None:
    s = LogSketch(gamma=2.0)
    counts = {"p0": 5, "p3": 5, NULL_KEY: 2}
    assert s.quantile_edges(counts, 2) == (1.0,)
    assert s.quantile_edges(counts, 1) == ()
    assert s.quantile_edges({NULL_KEY: 3}, 4) == ()
    assert s.fold(counts, (1.0,)) == {"0": 5, "1": 5, NULL_KEY: 2}
    four = {"p0": 1, "p1": 1, "p2": 1, "p3": 1}
    assert s.quantile_edges(four, 4) == (1.0, 2.0, 4.0)
    assert s.quantile_edges(four, 2) == (2.0,)
    assert s.quantile_edges({"p0": 9, "p1": 1}, 4) == (1.0,)  # repeated values give fewer edges


# -- text -------------------------------------------------------------------------------------------------


def test_text_keys_are_the_buckets_touched_once_each_sorted() -> None:
    h = HashedTokens(16)
    assert h.keys(None) == (NULL_KEY,)
    assert h.keys("") == (EMPTY_KEY,) and h.keys("a b c") == (EMPTY_KEY,)  # one letter is no token
    one = h.keys("Hello")
    assert one == (str(token_bucket("hello", 16)),)
    assert h.keys("hello HELLO hello") == one
    both = h.keys("hello world")
    assert both == tuple(sorted({str(token_bucket("hello", 16)), str(token_bucket("world", 16))}))
    assert h.keys(12345) == (str(token_bucket("12345", 16)),)
    assert all(0 <= token_bucket(t, 7) < 7 for t in ("ab", "cd", "ef", "hello"))


def test_a_carried_value_is_counted_as_the_value_itself() -> None:
    assert carried_value("short", "text", 8) == "short"
    assert carried_value(42, "categorical", 8) == 42
    long_text = " ".join(f"word{i}" for i in range(200))
    carried = carried_value(long_text, "text", 8)
    assert len(carried) < len(long_text)
    assert HashedTokens(8).keys(carried) == HashedTokens(8).keys(long_text)
    long_cat = "c" * 1000
    assert carried_value(long_cat, "categorical", 8) == "c" * (MAX_CATEGORY_CHARS + 1)
    assert category_key(carried_value(long_cat, "categorical", 8)) == category_key(long_cat)
    assert carried_value(long_cat, "numeric", 8) == long_cat
    exactly = "x" * HashedTokens.TEXT_CHARS
    assert carried_value(exactly, "categorical", 8) == exactly
