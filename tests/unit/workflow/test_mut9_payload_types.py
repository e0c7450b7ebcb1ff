"""How the payload's typed fields evolve from step to step (workflow/payload_types.py): a transform's
rename, set, function outputs and drop; a route's field and the join of its non-terminal branches (the
union; optional where a branch lacks the field; left out where the branches disagree on its type); an llm
step's answers (optional: the call may fail); walk() gives every step, branches included, with the fields it
receives."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.ir import (
    BranchIR,
    DeriveIR,
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    RuleIR,
    TransformStepIR,
    ValidateStepIR,
)
from dana_workflows.workflow.payload_types import (
    Fields,
    branch_type_conflicts,
    fields_after,
    join_branches,
    walk,
)

pytestmark = pytest.mark.unit


def fields(*specs: tuple[str, str, bool]) -> Fields:
    return {n: FieldIR(name=n, type=t, optional=o) for n, t, o in specs}  # type: ignore[arg-type]


def shape(f: Fields) -> list[tuple[str, str, bool]]:
    return [(x.name, x.type, x.optional) for x in f.values()]


START = fields(("amount", "double", False), ("note", "string", True), ("cur", "string", False))


def test_a_transform_renames_sets_adds_function_outputs_then_drops() -> None:
    step = TransformStepIR(
        name="t",
        rename={"note": "remark", "missing": "x"},
        derive=(
            DeriveIR(field="cents", expr="1", type="long"),
            DeriveIR(field="cur", expr="'a'", type="string"),
        ),
        function_outputs=(FieldIR(name="region", type="string", optional=True),),
        drop=("amount", "never_there"),
    )
    after = fields_after(step, START)
    assert shape(after) == [
        ("cur", "string", False),
        ("remark", "string", True),  # renamed: keeps its type and optionality
        ("cents", "long", False),
        ("region", "string", True),
    ]
    assert START["note"].name == "note"  # the fields before are not changed


def test_a_validate_step_changes_nothing() -> None:
    step = ValidateStepIR(name="v", rules=(RuleIR(id="a", expr="true"),))
    assert fields_after(step, START) == START


def test_an_llm_steps_answers_are_optional() -> None:
    step = LLMStepIR(name="a", prompt="p", output=(FieldIR(name="risk", type="string"),))
    assert shape(fields_after(step, START))[-1] == ("risk", "string", True)


def set_step(name: str, field: str, type_: str) -> TransformStepIR:
    return TransformStepIR(name=name, derive=(DeriveIR(field=field, expr="1", type=type_),))  # type: ignore[arg-type]


def test_a_route_adds_its_field_and_joins_the_branches_that_go_on() -> None:
    route = RouteStepIR(
        name="r",
        field="decision",
        branches=(
            BranchIR(name="a", when="true", steps=(set_step("s1", "x", "long"), set_step("s2", "y", "long"))),
            BranchIR(name="b", when="true", steps=(set_step("s3", "x", "long"),)),
            BranchIR(name="c", when="true", terminal=True, steps=(set_step("s4", "z", "long"),)),
        ),
    )
    after = fields_after(route, START)
    assert shape(after) == [
        ("amount", "double", False),
        ("note", "string", True),
        ("cur", "string", False),
        ("decision", "string", False),
        ("x", "long", False),  # both joining branches set it
        ("y", "long", True),  # only one does
    ]  # z: set on a terminal branch only, gone


def test_a_route_whose_branches_all_end_keeps_the_fields_before_and_its_own() -> None:
    route = RouteStepIR(name="r", branches=(BranchIR(name="a", when="true", terminal=True),))
    assert shape(fields_after(route, START))[-1] == ("route", "string", False)
    assert len(fields_after(route, START)) == len(START) + 1


def test_join_leaves_out_a_field_the_branches_type_differently_and_names_it() -> None:
    a = fields(("k", "long", False), ("same", "string", False))
    b = fields(("k", "string", False), ("same", "string", True))
    assert shape(join_branches([a, b])) == [("same", "string", True)]
    assert branch_type_conflicts({"a": a, "b": b}) == {"k": {"a": "long", "b": "string"}}
    assert branch_type_conflicts({"a": a, "b": a}) == {}


def test_join_keeps_the_first_definition_when_nothing_changes() -> None:
    a = fields(("k", "long", False))
    joined = join_branches([a, fields(("k", "long", False))])
    assert joined["k"] is a["k"]


def test_walk_gives_each_step_with_the_fields_it_receives() -> None:
    inner = set_step("inner", "x", "long")
    route = RouteStepIR(name="r", branches=(BranchIR(name="b", when="true", steps=(inner,)),))
    last = ValidateStepIR(name="v", rules=(RuleIR(id="a", expr="true"),))
    seen = [(path, sorted(f)) for path, _, f in walk((route, last), START)]
    assert seen == [
        ("r", ["amount", "cur", "note"]),
        ("r.b.inner", ["amount", "cur", "note", "route"]),
        ("v", ["amount", "cur", "note", "route", "x"]),
    ]
