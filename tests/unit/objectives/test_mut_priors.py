"""Priors from a domain pack folded into what the sample shows (objectives/priors.py), per its docstring.

A range prior clips the learned range (keeping a learned open floor only where it still stands); with
nothing learned it stands alone (a floor alone when only a minimum is known, nothing when only a maximum
is); a value list stands where no domain was learned, replacing a learned shape; a format replaces a
learned shape; a prior the sample contradicts is not offered; no pack changes nothing.
"""

from __future__ import annotations

import pytest

from dana_workflows.objectives.domain_packs import DomainPack, FieldPrior, Prior
from dana_workflows.objectives.priors import apply_priors
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit


def _pack(spec: FieldPrior, values: list[object] | None = None) -> DomainPack:
    return DomainPack("p", ["p", "core"], [Prior("p", spec, list(values or []))])


def _learned(lo: float, hi: float, lo_open: bool = False) -> Candidate:
    return Candidate(
        id="age_range",
        rule=f"age >= {lo} && age <= {hi}",
        profile="range",
        fields=("age",),
        message="m",
        basis="quantiles",
        strength=0.8,
        support=40,
        kind="range",
        refine={"lo": lo, "hi": hi, "lo_open": lo_open},
    )


AGE = Column(FieldIR(name="age", type="long"), [20, 30, 40, None])
RANGE = FieldPrior(names=["age"], range=(0, 130), why="a human age")


def test_no_pack_or_no_matching_prior_changes_nothing() -> None:
    found = [_learned(-4, 112)]
    assert apply_priors(AGE, None, found) is found
    other = _pack(FieldPrior(names=["height"], range=(0, 3)))
    assert apply_priors(AGE, other, found) == found


def test_a_range_prior_clips_the_learned_range() -> None:
    (clipped,) = apply_priors(AGE, _pack(RANGE), [_learned(-4, 150)])
    assert clipped.refine == {"lo": 0, "hi": 130, "lo_open": False}
    assert clipped.rule == "age == null || (age >= 0 && age <= 130)"
    assert clipped.message == "age must lie in [0, 130]"
    assert clipped.basis == "quantiles, clipped to a human age (pack:p)"
    assert (clipped.id, clipped.strength, clipped.support, clipped.kind) == ("age_range", 0.8, 40, "range")


def test_a_learned_range_inside_the_prior_stands() -> None:
    learned = _learned(10, 90)
    assert apply_priors(AGE, _pack(RANGE), [learned]) == [learned]


def test_a_learned_open_floor_survives_only_where_it_stands() -> None:
    (kept,) = apply_priors(AGE, _pack(RANGE), [_learned(5, 150, lo_open=True)])
    assert kept.refine["lo_open"] is True and kept.rule.startswith("age == null || (age > 5 ")
    (moved,) = apply_priors(AGE, _pack(RANGE), [_learned(-5, 150, lo_open=True)])
    assert moved.refine["lo_open"] is False


def test_a_sample_the_prior_contradicts_keeps_what_was_learned() -> None:
    old = Column(FieldIR(name="age", type="long"), [20, 140])
    learned = _learned(0, 200)
    assert apply_priors(old, _pack(RANGE), [learned]) == [learned]
    below = Column(FieldIR(name="age", type="long"), [-1, 20])
    assert apply_priors(below, _pack(RANGE), []) == []


def test_with_nothing_learned_the_prior_stands_alone() -> None:
    (cand,) = apply_priors(AGE, _pack(RANGE), [])
    assert cand.rule == "age == null || (age >= 0 && age <= 130)" and cand.kind == "range"
    assert cand.refine == {"lo": 0.0, "hi": 130.0}
    assert cand.id == "age_range" and cand.profile == "pack:p" and cand.message == "age must be a human age"
    assert cand.basis == "age is a human age in the p pack; all 3 sample values agree"
    assert cand.strength == 0.9 and cand.support == 3
    (floor,) = apply_priors(AGE, _pack(FieldPrior(names=["age"], range=(0, None))), [])
    assert floor.kind == "min" and floor.rule == "age == null || (age >= 0)" and floor.id == "age_min"
    assert floor.message == "age must be what the domain says"
    assert apply_priors(AGE, _pack(FieldPrior(names=["age"], range=(None, 130))), []) == []


def test_a_value_list_replaces_a_learned_shape_unless_a_domain_was_learned() -> None:
    col = Column(FieldIR(name="currency", type="string"), ["EUR", "USD"] * 20)
    spec = FieldPrior(names=["currency"], values="iso")
    shape = Candidate(
        "c_p", "currency.matches('^[A-Z]{3}$')", "pattern", ("currency",), "", "", kind="pattern"
    )
    keep = Candidate("c_t", "size(currency) > 0", "types", ("currency",), "", "", kind="present")
    out = apply_priors(col, _pack(spec, ["EUR", "GBP", "USD"]), [shape, keep])
    assert [c.kind for c in out] == ["present", "domain"]
    assert out[1].rule == 'currency in ["EUR", "GBP", "USD"]' and out[1].refine == {
        "values": ["EUR", "GBP", "USD"]
    }
    learned_domain = Candidate(
        "c_d", 'currency in ["EUR", "USD"]', "domain", ("currency",), "", "", kind="domain"
    )
    assert apply_priors(col, _pack(spec, ["EUR", "GBP", "USD"]), [learned_domain]) == [learned_domain]
    assert apply_priors(col, _pack(spec, ["EUR"]), [shape]) == [shape]  # USD contradicts it


def test_a_format_replaces_a_learned_shape() -> None:
    col = Column(FieldIR(name="email", type="string"), ["a@x.org", "b@y.com", None])
    spec = FieldPrior(names=["email"], format="[^@]+@[^@]+", why="an email address")
    shape = Candidate("e_p", "email.matches('^[a-z]@')", "pattern", ("email",), "", "", kind="pattern")
    out = apply_priors(col, _pack(spec), [shape])
    assert [c.kind for c in out] == ["pattern"] and out[0].profile == "pack:p"
    assert out[0].rule == 'email == null || (email.matches("[^@]+@[^@]+"))'
    bad = Column(FieldIR(name="email", type="string"), ["not an address"])
    assert apply_priors(bad, _pack(spec), [shape]) == [shape]
