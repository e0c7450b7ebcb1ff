from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR, TransformStepIR, ValidateStepIR
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

GOOD = """
workflow: claims-triage
version: 3
input:
  claim_id: string
  amount: double
  currency: string
  note: string?
objective:
  goal: pay small claims
  constraints:
    - {id: within_limit, rule: "route != 'auto_pay' || amount <= 500.0"}
steps:
  - normalize:
      transform:
        set:
          currency: "upper(currency)"
          doubled: {expr: "amount * 2.0", type: double}
        rename: {note: remark}
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0", message: "amount must be positive"}
        - {id: has_remark, rule: "remark != null", severity: warn}
      retry: {max_attempts: 2}
  - triage:
      route:
        auto_pay: "amount < 1000.0"
        review: {when: "true", steps: [{second: {validate: [{id: big, rule: "doubled > 0.0"}]}}]}
"""


def test_good_spec_compiles_to_ir() -> None:
    ir = parse_spec(GOOD, "good.yaml")
    assert ir.name == "claims-triage" and ir.version == 3
    assert [f.name for f in ir.input] == ["claim_id", "amount", "currency", "note"]
    assert ir.input[3].optional is True
    normalize, check, triage = ir.steps
    assert isinstance(normalize, TransformStepIR)
    assert {d.field: d.type for d in normalize.derive} == {"doubled": "double", "currency": "string"}
    assert normalize.rename == {"note": "remark"}
    assert isinstance(check, ValidateStepIR) and check.retry.max_attempts == 2
    assert [r.severity for r in check.rules] == ["reject", "warn"]
    assert isinstance(triage, RouteStepIR)
    assert [b.name for b in triage.branches] == ["auto_pay", "review"]
    assert triage.branches[1].steps[0].name == "second"
    assert ir.objective.constraints[0].id == "within_limit"


def test_every_problem_is_reported_with_line_field_and_fix() -> None:
    bad = """
workflow: claims
version: 0
input:
  claim_id: strin
  amount: double
stepz: 1
steps:
  - check:
      validate:
        - {id: positive, rule: "amout > 0.0"}
        - {id: broken, rule: "amount >> 0.0", severity: fatal}
  - triage:
      rout:
        auto_pay: "amount < 1000.0"
"""
    with pytest.raises(SpecError) as info:
        parse_spec(bad, "bad.yaml")
    problems = {(p.line, p.field): p for p in info.value.problems}
    assert (7, "stepz") in problems and "did you mean 'steps'" in problems[(7, "stepz")].fix
    assert (3, "version") in problems
    assert (5, "input.claim_id") in problems and "unknown type 'strin'" in problems[
        (5, "input.claim_id")
    ].message
    assert (12, "steps[0].check.validate[1].rule") in problems
    assert (12, "steps[0].check.validate[1].severity") in problems
    assert (14, "steps[1].triage.rout") in problems
    unknown_field = [p for p in info.value.problems if "amout" in p.message]
    assert unknown_field and "did you mean 'amount'" in unknown_field[0].fix
    text = str(info.value)
    assert text.startswith(f"{len(info.value.problems)} problems in workflow spec")
    assert "bad.yaml:7: stepz: unknown key" in text


def test_new_field_without_type_is_an_error() -> None:
    spec = """
workflow: w
input: {amount: double}
steps:
  - t: {transform: {set: {fee: "amount * 0.1"}}}
"""
    with pytest.raises(SpecError, match="a new field needs a type"):
        parse_spec(spec)


def test_rule_reading_a_field_dropped_earlier_is_an_error() -> None:
    spec = """
workflow: w
input: {amount: double, note: string}
steps:
  - t: {transform: {drop: [note]}}
  - v: {validate: [{id: r, rule: "size(note) > 0"}]}
"""
    with pytest.raises(SpecError, match="reads 'note', which is not a field at this step"):
        parse_spec(spec)


def test_duplicate_steps_and_rule_ids_are_errors() -> None:
    spec = """
workflow: w
input: {amount: double}
steps:
  - v: {validate: [{id: r, rule: "amount > 0.0"}, {id: r, rule: "amount < 9.0"}]}
  - v: {validate: [{id: q, rule: "amount > 0.0"}]}
"""
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    messages = [p.message for p in info.value.problems]
    assert "duplicate rule id 'r'" in messages and "duplicate step name" in messages


def test_llm_step_parses_with_output_fields() -> None:
    spec = """
workflow: w
input: {description: string}
steps:
  - assess:
      llm:
        prompt: "Rate {{ description }}"
        output: {risk: string, confidence: double}
        model: small
        limits: {rpm: 60}
"""
    step = parse_spec(spec).steps[0]
    assert isinstance(step, LLMStepIR)
    assert [f.name for f in step.output] == ["risk", "confidence"]
    assert step.limits.rpm == 60 and step.model == "small"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("workflow: w\nsteps:\n  - a: [unclosed\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.problems[0].file == str(path)
    assert info.value.problems[0].line >= 3


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_input_from_avsc(tmp_path: Path) -> None:
    (tmp_path / "claim.avsc").write_text(
        '{"type": "record", "name": "Claim", "fields": [{"name": "amount", "type": "double"},'
        ' {"name": "note", "type": ["null", "string"], "default": null}]}'
    )
    (tmp_path / "wf.yaml").write_text(
        "workflow: w\ninput: {schema: claim.avsc}\n"
        "steps:\n  - v: {validate: [{id: r, rule: 'amount > 0.0'}]}\n"
    )
    ir = load_spec(tmp_path / "wf.yaml")
    assert [(f.name, f.type, f.optional) for f in ir.input] == [
        ("amount", "double", False),
        ("note", "string", True),
    ]


def test_claims_example_parses(claims_spec: Path) -> None:
    ir = load_spec(claims_spec)
    assert ir.name == "claims-triage"
    assert [s.name for s in ir.steps] == ["normalize", "check_claim", "triage"]
    assert [m.id for m in ir.drift.monitors] == ["currency_mix", "claim_amount", "description_terms"]


BRANCHES = """
workflow: w
input: {amount: double, description: string}
steps:
  - triage:
      route:
        small: "amount < 10.0"
        large:
          when: "true"
          steps:
            - assess:
                llm:
                  prompt: "Rate {{ description }}"
                  output: {risk: string, confidence: double}
            - tag: {transform: {set: {tier: {expr: "'large'", type: string}}}}
  - check: {validate: [{id: known_risk, rule: "risk == null || risk in ['low', 'high']"}]}
"""


def test_fields_a_branch_adds_reach_the_steps_after_the_join_as_optional() -> None:
    from dana_workflows.processors.pipeline import OUT, compile_pipeline

    ir = parse_spec(BRANCHES)  # the rule after the join reads the llm answer: no "not a field" error
    pipeline = compile_pipeline(ir)
    joined = pipeline.boundaries["triage"]  # where both branches meet, into `check`
    assert list(joined) == ["amount", "description", "route", "risk", "confidence", "tier"]
    assert [joined[f].optional for f in ("amount", "route", "risk", "confidence", "tier")] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert pipeline.boundaries[OUT] == joined


def test_a_field_typed_differently_in_two_joining_branches_is_an_error() -> None:
    spec = BRANCHES.replace(
        'small: "amount < 10.0"',
        """small:
          when: "amount < 10.0"
          steps:
            - t: {transform: {set: {tier: {expr: "1", type: long}}}}""",
    ).replace(
        "  - check: {validate: [{id: known_risk, rule: \"risk == null || risk in ['low', 'high']\"}]}\n", ""
    )
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    (problem,) = info.value.problems
    assert (
        problem.message
        == "field 'tier' has different types where the branches join (long in 'small', string in 'large')"
    )
    assert "one type in every branch" in problem.fix
