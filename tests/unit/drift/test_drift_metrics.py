"""PSI and Jensen-Shannon against hand-computed values; the features that produce their bins."""

from __future__ import annotations

import hashlib
import math
import random

import pytest

from dana_workflows.drift.divergence import js_distance, min_events, null_psi, psi
from dana_workflows.drift.features import (
    EMPTY_KEY,
    INVALID_KEY,
    NULL_KEY,
    HashedTokens,
    LogSketch,
    bin_key,
    bin_label,
    category_key,
    check_edges,
    token_bucket,
)

pytestmark = pytest.mark.unit

EPS = 1e-4


# -- PSI -----------------------------------------------------------------------------------------------


def test_psi_without_smoothing_matches_the_textbook_sum() -> None:
    # e = (.5, .5), a = (.75, .25): (.75-.5) ln(.75/.5) + (.25-.5) ln(.25/.5)
    #                              = .25 ln 1.5 + .25 ln 2 = .25 ln 3
    result = psi({"a": 50, "b": 50}, {"a": 75, "b": 25}, eps=0.0)
    assert result.psi == pytest.approx(0.25 * math.log(3), rel=1e-12)
    assert [c.key for c in result.contributions] == ["a", "b"]
    assert result.contributions[0].psi == pytest.approx(0.25 * math.log(1.5), rel=1e-12)
    assert result.contributions[1].psi == pytest.approx(0.25 * math.log(2), rel=1e-12)


def test_psi_default_smoothing_is_additive_over_the_union_of_keys() -> None:
    # k = 2 keys, norm = 1 + 2*eps. e' = (.5+eps)/norm = .5 both; a' = (.75+eps)/norm, (.25+eps)/norm
    norm = 1 + 2 * EPS
    e = 0.5
    a1, a2 = (0.75 + EPS) / norm, (0.25 + EPS) / norm
    expected = (a1 - e) * math.log(a1 / e) + (a2 - e) * math.log(a2 / e)
    assert psi({"a": 50, "b": 50}, {"a": 75, "b": 25}).psi == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.25 * math.log(3), abs=1e-3)  # smoothing barely moves it


def test_psi_with_an_empty_reference_bin() -> None:
    # reference {a: 100, b: 0}, window {a: 50, b: 50}; norm = 1.0002
    # e' = (1.0001, 0.0001)/norm, a' = (0.5001, 0.5001)/norm
    # PSI = [(0.5001-1.0001) ln(0.5001/1.0001) + (0.5001-0.0001) ln(0.5001/0.0001)] / norm
    #     = 0.5/norm * [ln(1.0001/0.5001) + ln(0.5001/0.0001)] = 0.5/norm * ln(10001)
    result = psi({"a": 100, "b": 0}, {"a": 50, "b": 50})
    assert result.psi == pytest.approx(0.5 / 1.0002 * math.log(10001), rel=1e-12)
    assert result.psi == pytest.approx(4.6043, abs=1e-4)


def test_psi_with_a_category_the_reference_never_saw() -> None:
    # reference {USD: 80, EUR: 20}, window {USD: 60, EUR: 20, GBP: 20}; keys EUR, GBP, USD; norm = 1.0003
    # EUR: same share -> 0; GBP: (0.2001-0.0001)/norm ln(0.2001/0.0001);
    # USD: (0.6001-0.8001)/norm ln(0.6001/0.8001)
    # total = 0.2/norm * ln(2001 * 0.8001 / 0.6001)
    result = psi({"USD": 80, "EUR": 20}, {"USD": 60, "EUR": 20, "GBP": 20})
    assert result.psi == pytest.approx(0.2 / 1.0003 * math.log(2001 * 0.8001 / 0.6001), rel=1e-12)
    by_key = {c.key: c for c in result.contributions}
    assert by_key["EUR"].psi == 0.0
    assert by_key["GBP"].expected == 0.0 and by_key["GBP"].actual == pytest.approx(0.2)
    assert max(result.contributions, key=lambda c: c.psi).key == "GBP"


def test_psi_terms_are_non_negative_and_sum_to_the_total() -> None:
    rng = random.Random(3)
    ref = {str(i): rng.randint(0, 50) for i in range(12)}
    win = {str(i): rng.randint(0, 50) for i in range(4, 16)}
    result = psi(ref, win)
    assert all(c.psi >= 0.0 for c in result.contributions)
    assert sum(c.psi for c in result.contributions) == pytest.approx(result.psi, rel=1e-12)


def test_psi_of_identical_shares_is_zero_and_is_scale_free() -> None:
    assert psi({"a": 1, "b": 3}, {"a": 10, "b": 30}).psi == pytest.approx(0.0, abs=1e-15)


def test_psi_without_smoothing_refuses_an_empty_bin() -> None:
    with pytest.raises(ValueError, match="eps > 0"):
        psi({"a": 1}, {"a": 1, "b": 1}, eps=0.0)


def test_empty_distribution_is_an_error() -> None:
    with pytest.raises(ValueError, match="window distribution is empty"):
        psi({"a": 1}, {})
    with pytest.raises(ValueError, match="reference distribution is empty"):
        js_distance({"a": 0}, {"a": 1})


# -- Jensen-Shannon ------------------------------------------------------------------------------------


def test_js_of_disjoint_distributions_is_one() -> None:
    # m = (.5, .5): each side contributes .5 * 1 * log2(1/.5) = .5 -> divergence 1, distance 1
    assert js_distance({"a": 5}, {"b": 7}) == pytest.approx(1.0, rel=1e-12)


def test_js_against_a_hand_computed_value_with_an_unseen_key() -> None:
    # p = (1, 0), q = (.5, .5), m = (.75, .25)
    # JSD = H(m) - (H(p) + H(q))/2 = -(.75 log2 .75 + .25 log2 .25) - (0 + 1)/2 = 0.811278... - 0.5
    h_m = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    expected = math.sqrt(h_m - 0.5)
    assert expected == pytest.approx(0.55793, abs=1e-5)
    assert js_distance({"a": 4}, {"a": 2, "b": 2}) == pytest.approx(expected, rel=1e-12)
    assert js_distance({"a": 2, "b": 2}, {"a": 4}) == pytest.approx(expected, rel=1e-12)  # symmetric


def test_js_of_identical_shares_is_zero() -> None:
    assert js_distance({"a": 1, "b": 2}, {"a": 2, "b": 4}) == 0.0


# -- noise and the minimum window ----------------------------------------------------------------------


def test_null_psi_and_the_minimum_events_per_window() -> None:
    mean, sd = null_psi(10, 1000, 1000)  # 9 * (2/1000), sqrt(18) * 2/1000
    assert mean == pytest.approx(0.018)
    assert sd == pytest.approx(math.sqrt(18) * 0.002)
    # 2 * (9 + 5 sqrt 18) / 0.1 = 604.26 -> 605
    assert min_events(10, 0.1) == 605
    assert min_events(3, 0.1) == math.ceil(2 * (2 + 5 * 2) / 0.1)  # 240


# -- features ------------------------------------------------------------------------------------------


def test_category_keys() -> None:
    assert category_key("EUR") == "EUR"
    assert category_key(None) == NULL_KEY
    assert category_key(True) == "true"
    assert category_key(3) == "3"
    assert len(category_key("x" * 1000)) == 200


def test_numeric_bins_are_right_closed_with_open_ends() -> None:
    edges = check_edges([10, 20], "t")
    assert [bin_key(v, edges) for v in (-5, 10, 10.5, 20, 21)] == ["0", "0", "1", "1", "2"]
    assert bin_key(None, edges) == NULL_KEY
    assert bin_key("abc", edges) == INVALID_KEY
    assert bin_key(float("nan"), edges) == INVALID_KEY
    assert [bin_label(k, edges) for k in ("0", "1", "2")] == ["(-inf, 10]", "(10, 20]", "(20, inf)"]


def test_bad_edges_name_the_place_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"monitor 'amt'.*strictly increasing.*sort them"):
        check_edges([3, 1], "monitor 'amt'")


def test_sketch_quantile_edges_and_exact_folding() -> None:
    rng = random.Random(11)
    values = [rng.lognormvariate(5, 1.2) for _ in range(20_000)] + [-3.0, 0.0, -250.0]
    sketch = LogSketch()
    counts: dict[str, int] = {}
    for v in values:
        k = sketch.key(v)
        counts[k] = counts.get(k, 0) + 1
    edges = sketch.quantile_edges(counts, 10)
    assert len(edges) == 9
    direct: dict[str, int] = {}
    for v in values:
        k = bin_key(v, edges)
        direct[k] = direct.get(k, 0) + 1
    # Edges are sketch bucket bounds: folding the sketch is the same as binning the raw values.
    assert sketch.fold(counts, edges) == direct
    for i in range(1, 10):  # each edge within the sketch's 2% of the true decile
        true_q = sorted(values)[int(len(values) * i / 10)]
        assert edges[i - 1] == pytest.approx(true_q, rel=0.03)


def test_sketch_edges_collapse_on_repeated_values() -> None:
    sketch = LogSketch()
    counts = {sketch.key(5.0): 90, sketch.key(100.0): 10}
    assert sketch.quantile_edges(counts, 10) == (sketch.upper(sketch.key(5.0)),)


def test_token_buckets_are_blake2b_not_hash() -> None:
    # The bucket is the first 8 bytes of blake2b(token), big-endian, modulo the bucket count.
    digest = hashlib.blake2b(b"water", digest_size=8).digest()
    assert token_bucket("water", 32) == int.from_bytes(digest, "big") % 32
    ht = HashedTokens(32)
    keys = ht.keys("Water damage; WATER in the roof")
    assert keys == tuple(sorted({str(token_bucket(t, 32)) for t in ("water", "damage", "in", "the", "roof")}))
    assert ht.keys("") == (EMPTY_KEY,)
    assert ht.keys("a b c") == (EMPTY_KEY,)  # single characters are not tokens
    assert ht.keys(None) == (NULL_KEY,)
