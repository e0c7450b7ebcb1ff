"""Profilers on samples whose right answer follows from how they were made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.profilers import categories, patterns, ranges, relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def col(name: str, type_: str, values: Sequence[Any], optional: bool = False) -> Column:
    return Column(FieldIR(name=name, type=type_, optional=optional), list(values))  # type: ignore[arg-type]


def test_range_is_robust_to_one_wild_value_and_keeps_zero_as_floor() -> None:
    values = [float(v) for v in range(1, 201)] + [1e6]
    (cand,) = ranges.profile(col("amount", "double", values), S)
    assert cand.refine["hi"] < 1e5  # one wild value does not become the law
    assert cand.refine["hi"] > 200.0  # the tolerance keeps the edge of the good values inside
    assert cand.refine["lo"] == 0.0  # never below zero in the sample: a sign is a semantic edge


def test_clock_fields_get_no_range() -> None:
    assert ranges.profile(col("submitted_at", "long", list(range(1000, 1100))), S) == []


def test_domain_tolerates_rare_values_but_not_an_open_tail() -> None:
    closed = ["a"] * 150 + ["b"] * 149 + ["c"]  # one singleton in 300: closed
    (cand,) = categories.profile(col("k", "string", closed), S)
    assert cand.rule == 'k in ["a", "b", "c"]'
    open_tail = ["a"] * 280 + [f"v{i}" for i in range(20)]  # 20 singletons: new values keep coming
    assert categories.profile(col("k", "string", open_tail), S) == []


def test_patterns_learn_ids_and_know_formats() -> None:
    ids = [f"AB{i:06d}" for i in range(100)]
    (cand,) = patterns.profile(col("policy", "string", ids), S)
    assert cand.rule == 'policy.matches("^AB[0-9]{6}$")'  # every id starts AB: a constant head (round 8)
    dates = [f"2025-0{1 + i % 9}-1{i % 9}" for i in range(50)]
    (iso,) = patterns.profile(col("d", "string", dates), S)
    assert "(0[1-9]|1[0-2])" in iso.rule  # recognised as a date, not a learned shape
    prose = [f"word{'s' * (i % 3)} and more {i}" if i % 2 else "short" for i in range(50)]
    assert patterns.profile(col("text", "string", prose), S) == []


def test_relations_find_order_sum_and_implication() -> None:
    n = 60
    a = col("start", "long", [i for i in range(n)])
    b = col("stop", "long", [i + (i % 5) for i in range(n)])
    total = col("total", "long", [i + i + (i % 5) for i in range(n)])
    flag = col("flag", "boolean", [i % 3 == 0 for i in range(n)])
    ref = col("ref", "string", [f"R{i}" if i % 3 == 0 or i % 2 else None for i in range(n)], optional=True)
    found = {c.rule for c in relations.profile([a, b, total, flag, ref], S)}
    assert "start <= stop" in found
    assert "start + stop == total" in found
    assert "!flag || ref != null" in found
    assert "stop <= start" not in found
