"""Where rules can stand (objectives/boundaries.py): the input, every step with outputs, in order.

Expected values come from the module's contract: a transform's derived fields are computed with the
spec's own expressions over the top-level transforms; an llm step's outputs come only from sample rows
that carry all of them; a step no sample row speaks for gets a note naming it and its fields.
"""

from __future__ import annotations

from dana_workflows.objectives.boundaries import boundaries, walk_steps
from dana_workflows.objectives.sample import Sample
from dana_workflows.workflow.ir import (
    BranchIR,
    DeriveIR,
    FieldIR,
    LLMStepIR,
    RouteStepIR,
    RuleIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)


def _llm(name: str, *outs: str) -> LLMStepIR:
    return LLMStepIR(name=name, prompt="p", output=tuple(FieldIR(name=o, type="string") for o in outs))


def _wf(*steps: object) -> WorkflowIR:
    return WorkflowIR(
        name="wf",
        input=(FieldIR(name="a", type="long"), FieldIR(name="b", type="long")),
        steps=steps,  # type: ignore[arg-type]
    )


def _sample(path: str, events: list[dict[str, object]], first_line: int = 1) -> Sample:
    return Sample(path, events, lines=list(range(first_line, first_line + len(events))))


def test_walk_steps_names_branch_steps_by_dotted_path_in_order() -> None:
    inner = _llm("label", "tag")
    deeper = RouteStepIR(name="r2", branches=(BranchIR(name="x", when="true", steps=(_llm("z", "q"),)),))
    route = RouteStepIR(
        name="r",
        branches=(
            BranchIR(name="hi", when="a > 1", steps=(inner, deeper)),
            BranchIR(name="lo", when="true"),
        ),
    )
    first = _llm("first", "o")
    paths = [p for p, _ in walk_steps([first, route])]
    assert paths == ["first", "r", "r.hi.label", "r.hi.r2", "r.hi.r2.x.z"]
    assert walk_steps([first, route])[2][1] is inner
    assert [p for p, _ in walk_steps([first], "pre.")] == ["pre.first"]


def test_the_input_boundary_comes_first_with_every_input_field_and_both_samples() -> None:
    sample = _sample("s.jsonl", [{"a": 1, "b": 2}])
    holdout = _sample("h.jsonl", [{"a": 3, "b": 4}])
    out, notes = boundaries(_wf(), sample, holdout)
    assert notes == []
    assert len(out) == 1
    assert out[0].target == "input"
    assert list(out[0].fields) == ["a", "b"]
    assert out[0].sample is sample and out[0].holdout is holdout


def test_a_transform_boundary_holds_its_derived_values_computed_from_the_sample() -> None:
    step = TransformStepIR(name="t", derive=(DeriveIR(field="s", expr="a + b", type="long"),))
    sample = _sample("s.jsonl", [{"a": 1, "b": 2}, {"a": 10, "b": 5}], first_line=3)
    holdout = _sample("h.jsonl", [{"a": 7, "b": 0}])
    out, notes = boundaries(_wf(step), sample, holdout)
    assert notes == []
    assert [b.target for b in out] == ["input", "step:t"]
    b = out[1]
    assert list(b.fields) == ["s"] and b.fields["s"].type == "long"
    assert [e["s"] for e in b.sample.events] == [3, 15]
    assert b.sample.lines == [3, 4]  # each event still names its file line
    assert b.sample.path == "s.jsonl"
    assert [e["s"] for e in b.holdout.events] == [7]
    assert b.holdout.path == "h.jsonl"
    # the samples themselves are not changed: the derived values live on copies
    assert "s" not in sample.events[0]


def test_a_derived_value_that_fails_to_evaluate_leaves_that_event_out_of_the_step_boundary() -> None:
    step = TransformStepIR(name="t", derive=(DeriveIR(field="s", expr="a + missing", type="long"),))
    sample = _sample("s.jsonl", [{"a": 1, "b": 2}])
    out, notes = boundaries(_wf(step), sample, _sample("h.jsonl", []))
    assert [b.target for b in out] == ["input"]
    assert notes == ["step 't': no sample event carries its outputs (s)"]


def test_later_transforms_see_earlier_derived_fields_and_renames() -> None:
    t1 = TransformStepIR(
        name="t1", derive=(DeriveIR(field="s", expr="a + b", type="long"),), rename={"a": "x"}
    )
    t2 = TransformStepIR(name="t2", derive=(DeriveIR(field="d", expr="s * x", type="long"),))
    sample = _sample("s.jsonl", [{"a": 2, "b": 3}])
    out, notes = boundaries(_wf(t1, t2), sample, _sample("h.jsonl", []))
    assert notes == []
    by = {b.target: b for b in out}
    assert by["step:t2"].sample.events[0]["d"] == 10  # (2 + 3) * 2
    assert "a" not in by["step:t2"].sample.events[0]
    assert by["step:t2"].sample.events[0]["x"] == 2


def test_an_llm_boundary_keeps_only_rows_carrying_every_output_and_names_the_missing_step() -> None:
    step = _llm("classify", "label", "why")
    other = _llm("summarise", "summary")
    check = ValidateStepIR(name="v", rules=(RuleIR(id="r", expr="true"),))
    events: list[dict[str, object]] = [
        {"a": 1, "b": 1, "label": "x", "why": "w"},
        {"a": 1, "b": 1, "label": "x"},  # one output missing
        {"a": 1, "b": 1, "label": None, "why": "w"},  # null is not carried
        {"a": 2, "b": 2, "label": "y", "why": "v"},
    ]
    sample = _sample("s.jsonl", events, first_line=10)
    holdout = _sample("h.jsonl", [{"a": 1, "b": 1, "why": "w"}, {"a": 1, "b": 1, "label": "z", "why": "q"}])
    out, notes = boundaries(_wf(check, step, other), sample, holdout)
    assert [b.target for b in out] == ["input", "step:classify"]
    b = out[1]
    assert list(b.fields) == ["label", "why"]
    assert [e["label"] for e in b.sample.events] == ["x", "y"]
    assert b.sample.lines == [10, 13]
    assert [e["label"] for e in b.holdout.events] == ["z"]
    assert b.holdout.lines == [2]
    assert notes == ["step 'summarise': no sample event carries its outputs (summary)"]


def test_a_step_inside_a_branch_is_a_boundary_named_by_its_path() -> None:
    route = RouteStepIR(name="r", branches=(BranchIR(name="hi", when="true", steps=(_llm("tag", "t"),)),))
    sample = _sample("s.jsonl", [{"a": 1, "b": 1, "t": "k"}])
    out, notes = boundaries(_wf(route), sample, _sample("h.jsonl", []))
    assert notes == []
    assert [b.target for b in out] == ["input", "step:r.hi.tag"]
    assert out[1].holdout.events == []
