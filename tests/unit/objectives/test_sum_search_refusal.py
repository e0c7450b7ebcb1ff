"""relations._refused_by_two: the sum search (every set of 2-4 parts for every total, ~n^5 sets) refuses a set
on its first two complete events, where the full test would refuse it anyway, instead of summing every
event (a review found 16 random numeric columns took 23 s, 40 did not finish in 300 s). It must never
change what is offered: the property below compares _sum_candidate with and without it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dana_workflows.objectives.profilers import relations
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

TOL = InferenceSettings().sum_tolerance


def test_the_first_event_missing_its_total_refuses_a_plain_sum_or_a_balance() -> None:
    head = [(1.0, 2.0, 3.5), (1.0, 2.0, 3.0)]
    assert relations._refused_by_two(head, [1, 1], TOL, offset_allowed=False)
    assert not relations._refused_by_two(
        [(1.0, 2.0, 3.0 + TOL / 2), *head], [1, 1], TOL, offset_allowed=False
    )
    assert relations._refused_by_two([(5.0, 2.0, 3.5)], [1, -1], TOL, offset_allowed=False)


def test_with_a_constant_allowed_only_differences_further_apart_than_twice_the_tolerance_refuse() -> None:
    # impact + urgency - 1 == priority: differences -1 and -1 agree; -1 and -1 + 1.9 tol still may
    assert not relations._refused_by_two([(2, 3, 4), (1, 1, 1)], [1, 1], TOL, offset_allowed=True)
    near = [(2.0, 3.0, 4.0), (1.0, 1.0, 1.0 + 1.9 * TOL)]
    assert not relations._refused_by_two(near, [1, 1], TOL, offset_allowed=True)
    far = [(2.0, 3.0, 4.0), (1.0, 1.0, 1.0 + 2 * TOL + 0.01)]
    assert relations._refused_by_two(far, [1, 1], TOL, offset_allowed=True)
    assert not relations._refused_by_two([(2.0, 3.0, 9.0)], [1, 1], TOL, offset_allowed=True)  # one event
    assert not relations._refused_by_two([], [1, 1], TOL, offset_allowed=False)


values = st.lists(st.one_of(st.none(), st.integers(-3, 6).map(float)), min_size=12, max_size=12)


@settings(max_examples=300, deadline=None)
@given(a=values, b=values, total=values, balance=st.booleans())
def test_the_early_refusal_never_changes_a_candidate(
    a: list[float | None], b: list[float | None], total: list[float | None], balance: bool
) -> None:
    cols = [
        Column(FieldIR(name=n, type="double", optional=True), v)
        for n, v in (("a", a), ("b", b), ("t", total))
    ]
    s = InferenceSettings(min_values=3)
    minus = cols[1] if balance else None
    got = relations._sum_candidate(cols[2], cols[:2], s, minus)
    original = relations._refused_by_two
    relations._refused_by_two = lambda *args, **kw: False  # type: ignore[assignment]
    try:
        full = relations._sum_candidate(cols[2], cols[:2], s, minus)
    finally:
        relations._refused_by_two = original  # type: ignore[assignment]
    assert (got is None) == (full is None)
    assert got is None or full is None or got.rule == full.rule


def test_a_difference_of_exactly_the_tolerance_is_within_it_as_in_the_full_test() -> None:
    # binary-exact values: 1 + 2 misses 3.5 by exactly 0.5, which the full test (<= tol) accepts
    assert not relations._refused_by_two([(1.0, 2.0, 3.5)], [1, 1], 0.5, offset_allowed=False)
    assert not relations._refused_by_two([(1.0, 2.0, 3.0), (1.0, 2.0, 4.0)], [1, 1], 0.5, offset_allowed=True)
