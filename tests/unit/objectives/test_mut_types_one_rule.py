"""Types in disguise (objectives/profilers/types.py) and one value rule per field (objectives/infer.py).

Types: a string field whose every value is a whole (or decimal) number written as text gets a number
rule, once it has ``min_values`` values, unless it is a small set of repeated codes (the domain
profiler speaks for those: at most ``max_categories`` distinct values seen four times each on average).
One rule per field: the most specific wins (domain over pattern over "not empty"); a domain makes a
range moot; a value rule without a null guard makes a separate "present" rule moot.
"""

from __future__ import annotations

import pytest

from dana_workflows.objectives.infer import _one_value_rule
from dana_workflows.objectives.profilers import types
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

SETTINGS = InferenceSettings(min_values=20, max_categories=25)


def _col(values: list[object], type_: str = "string") -> Column:
    return Column(FieldIR(name="code", type=type_), values)  # type: ignore[arg-type]


def test_whole_numbers_as_text_get_a_number_rule() -> None:
    values: list[object] = [str(1000 + i) for i in range(20)]
    (cand,) = types.profile(_col(values), SETTINGS)
    assert cand.rule == 'code.matches("^-?[0-9]+$")' and cand.kind == "pattern" and cand.profile == "types"
    assert cand.message == "code holds whole numbers as text" and cand.support == 20
    assert cand.basis == "all 20 values are whole numbers written as text"
    assert cand.id == "code_number_text" and cand.fields == ("code",)


def test_decimals_as_text_and_nulls_guarded() -> None:
    values: list[object] = [f"{i}.5" for i in range(20)] + ["-3", None]
    (cand,) = types.profile(_col(values), SETTINGS)
    assert cand.rule == 'code == null || (code.matches("^-?[0-9]+([.][0-9]+)?$"))'
    assert cand.message == "code holds decimal numbers as text"


def test_no_number_rule_below_min_values_for_other_types_or_for_words() -> None:
    assert types.profile(_col([str(i) for i in range(19)]), SETTINGS) == []
    assert types.profile(_col(list(range(30)), "long"), SETTINGS) == []
    assert types.profile(_col([str(i) for i in range(25)] + ["12a"]), SETTINGS) == []


def test_repeated_codes_are_left_to_the_domain_profiler() -> None:
    codes: list[object] = ["10", "20", "30", "40", "50"] * 4  # 5 codes, 4 times each
    assert types.profile(_col(codes), SETTINGS) == []
    fewer_repeats: list[object] = ["10", "20", "30", "40", "50", "60"] * 3 + ["70", "80"]  # 20 / 8 < 4
    assert len(types.profile(_col(fewer_repeats), SETTINGS)) == 1


def _c(kind: str, rule: str = "r", field: str = "x") -> Candidate:
    return Candidate(id=kind, rule=rule, profile="p", fields=(field,), message="", basis="", kind=kind)


def test_the_most_specific_value_rule_wins() -> None:
    kinds = lambda cs: [c.kind for c in cs]  # noqa: E731
    assert kinds(_one_value_rule([_c("nonempty"), _c("pattern"), _c("domain")])) == ["domain"]
    assert kinds(_one_value_rule([_c("nonempty"), _c("pattern")])) == ["pattern"]
    assert kinds(_one_value_rule([_c("nonempty")])) == ["nonempty"]
    assert kinds(_one_value_rule([_c("domain"), _c("range"), _c("min")])) == ["domain"]
    assert kinds(_one_value_rule([_c("range"), _c("min")])) == ["range", "min"]


def test_present_is_moot_beside_an_unguarded_value_rule_of_the_same_field() -> None:
    present = _c("present", "x != null")
    assert [c.kind for c in _one_value_rule([present, _c("range", "x > 1.0")])] == ["range"]
    guarded = _c("range", "x == null || (x > 1.0)")
    assert [c.kind for c in _one_value_rule([present, guarded])] == ["present", "range"]
    other_field = _c("range", "y > 1.0", field="y")
    assert [c.kind for c in _one_value_rule([present, other_field])] == ["present", "range"]
    assert [c.kind for c in _one_value_rule([present, _c("nonempty", "size(x) > 0")])] == [
        "present",
        "nonempty",
    ]
