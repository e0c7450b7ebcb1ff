"""A count-based check of bench/objective_inference.py on the shipped suite (no figures asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "data" / "objectives"))

import objective_inference as bench  # type: ignore[import-not-found]  # noqa: E402
from generate import ERRORS_PER_KIND, SIZES, build, load_suite  # type: ignore[import-not-found]  # noqa: E402


def test_suite_size_and_one_scored_dataset() -> None:
    suite = load_suite()
    assert len(suite) >= 30 and len({d.domain for d in suite}) >= 6
    ds = build(next(d for d in suite if d.name == "card_payments"))
    assert len(ds.sample) == SIZES["sample"] and len(ds.injected) == ERRORS_PER_KIND * len(ds.errors)
    fields = bench.fields_of(ds)
    gold = bench.score(ds.gold, ds, fields)  # gold scored against itself: every rule matches
    assert (gold.matched, gold.gold, gold.caught, gold.false_alarms) == (
        len(ds.gold),
        len(ds.gold),
        len(ds.injected),
        0,
    )
    rules = bench.infer_rules(ds, fields, bench.InferenceSettings())
    s = bench.score(rules, ds, fields)
    assert s.inferred == len(rules) and s.errors == len(ds.injected) and s.clean == SIZES["clean"]
    assert 0 <= s.matched <= min(s.inferred, s.gold)
