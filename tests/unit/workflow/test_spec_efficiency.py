"""The spec's POET and efficiency settings: parsed into the IR, and bad ones refused by `dana-wf validate`
with the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
workflow: wf
efficiency: {mode: naive, budget: {tokens_per_hour: 5000}}
input: {amount: double, text: string, cur: string}
steps:
  - pick:
      route:
        big:
          when: "amount > 10.0"
          steps:
            - assess:
                llm:
                  prompt: "{{ text }}"
                  output: {risk: string, confidence: double}
                  perceive: [{id: has_text, rule: "size(text) > 0", severity: warn}]
                  enforce: [{id: known, rule: "risk in ['low', 'high']"}]
                  efficiency:
                    risk: {high: ["amount > 500.0 || risk == 'high'"], medium: [], confidence_floor: 0.6,
                           novelty: [{field: cur, baseline: base.json, monitor: mix}]}
                    bypass: {error_bound: 0.02, calibration: cal.json}
                    budget: {cost_per_hour: 1.5, fallback: {risk: high}}
                    known_answers: [{when: "text == 'x'", output: {risk: low}}]
                    decision_fields: [risk]
        small: "true"
"""


def _llm(spec: str) -> LLMStepIR:
    ir = parse_spec(spec, "wf.yaml", base_dir=Path("/specs"))
    route = ir.steps[0]
    assert isinstance(route, RouteStepIR)
    step = route.branches[0].steps[0]
    assert isinstance(step, LLMStepIR)
    return step


def test_poet_rules_and_efficiency_reach_the_ir_with_the_workflow_defaults() -> None:
    step = _llm(GOOD)
    assert [r.id for r in step.perceive] == ["has_text"] and step.perceive[0].severity == "warn"
    assert [r.expr for r in step.enforce] == ["risk in ['low', 'high']"]
    eff = step.efficiency
    assert eff.mode == "naive"  # the workflow's, the step set none
    assert eff.workflow_budget is not None and eff.workflow_budget.tokens_per_hour == 5000
    assert (
        eff.budget is not None and eff.budget.cost_per_hour == 1.5 and eff.budget.fallback == {"risk": "high"}
    )
    assert eff.risk.high == ("amount > 500.0 || risk == 'high'",) and eff.risk.confidence_floor == 0.6
    assert eff.bypass.error_bound == 0.02 and eff.bypass.calibration == "/specs/cal.json"  # next to the spec
    assert eff.risk.novelty[0].baseline == "/specs/base.json"
    assert eff.known_answers[0].output == {"risk": "low"} and eff.decision_fields == ("risk",)


def test_a_step_mode_wins_over_the_workflow_mode() -> None:
    assert (
        _llm(
            GOOD.replace(
                "decision_fields: [risk]", "decision_fields: [risk]\n                    mode: optimised"
            )
        ).efficiency.mode
        == "optimised"
    )
    assert (
        _llm(
            GOOD.replace(
                "efficiency: {mode: naive, budget: {tokens_per_hour: 5000}}", "efficiency: optimised"
            )
        ).efficiency.mode
        == "optimised"
    )


BAD = {
    "threshold outside 0-1": (
        "confidence_floor: 0.6",
        "confidence_floor: 1.5",
        "confidence_floor",
        "less than or equal to 1",
    ),
    "error bound of 0": ("error_bound: 0.02", "error_bound: 0", "error_bound", "greater than 0"),
    "budget of 0": ("tokens_per_hour: 5000", "tokens_per_hour: 0", "tokens_per_hour", "greater than 0"),
    "cost budget of 0": ("cost_per_hour: 1.5", "cost_per_hour: 0", "cost_per_hour", "greater than 0"),
    "unknown risk key": (
        "confidence_floor: 0.6,",
        "confidence_flor: 0.6,",
        "confidence_flor",
        "did you mean 'confidence_floor'",
    ),
    "risk rule reads a missing field": (
        "amount > 500.0 ||",
        "amout > 500.0 ||",
        "risk.high[0]",
        "did you mean 'amount'",
    ),
    "perceive rule reads the output": (
        'rule: "size(text) > 0"',
        'rule: "size(risk) > 0"',
        "perceive.has_text",
        "not a field",
    ),
    "unknown mode": ("mode: naive", "mode: lazy", "efficiency.mode", "unknown efficiency mode"),
    "fallback names no output field": (
        "fallback: {risk: high}",
        "fallback: {rsk: high}",
        "fallback.rsk",
        "did you mean 'risk'",
    ),
    "decision field unknown": (
        "decision_fields: [risk]",
        "decision_fields: [rsk]",
        "efficiency",
        "did you mean 'risk'",
    ),
    "novelty field unknown": ("field: cur,", "field: currency,", "novelty.currency", "not a field"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_settings_name_the_line_and_the_fix(name: str) -> None:
    old, new, where, says = BAD[name]
    assert old in GOOD
    text = GOOD.replace(old, new)
    with pytest.raises(SpecError) as info:
        parse_spec(text, "wf.yaml")
    problems = [p for p in info.value.problems if where in p.field]
    assert problems, str(info.value)
    p = problems[0]
    assert says in f"{p.message} {p.fix}"
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new.split(":")[0].strip() in t)
    assert p.line in (line, 9)  # the line of the setting (step-level reads: the step's line)
    assert p.fix


def test_validate_refuses_bad_efficiency_with_file_line_and_fix(tmp_path: Path) -> None:
    spec = tmp_path / "wf.yaml"
    spec.write_text(
        GOOD.replace("tokens_per_hour: 5000", "tokens_per_hour: 0").replace(
            "confidence_floor: 0.6", "confidence_floor: -0.1"
        )
    )
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert f"{spec}:2: efficiency.budget.tokens_per_hour" in out and "(fix: budget:" in out
    assert f"{spec}:17:" in out and "confidence_floor" in out
    assert "Traceback" not in result.output


def test_the_refunds_example_loads() -> None:
    ir = load_spec(ROOT / "docs" / "examples" / "refunds" / "refunds.yaml")
    step = ir.steps[1]
    assert isinstance(step, LLMStepIR) and step.efficiency.known_answers and step.enforce


def test_an_unknown_efficiency_key_gets_a_suggestion() -> None:
    with pytest.raises(SpecError, match="did you mean 'known_answers'"):
        parse_spec(GOOD.replace("known_answers:", "known_answer:"), "wf.yaml")


SHAPES = {
    "bypass not a mapping": (
        "bypass: {error_bound: 0.02, calibration: cal.json}",
        "bypass: strict",
        "'bypass' is a mapping",
    ),
    "known answers not a list": (
        "known_answers: [{when: \"text == 'x'\", output: {risk: low}}]",
        "known_answers: 3",
        "a list of {when, output}",
    ),
    "a known answer without output": (
        "output: {risk: low}}]",
        "out: {risk: low}}]",
        "a known answer is {when",
    ),
    "decision fields not names": (
        "decision_fields: [risk]",
        "decision_fields: {a: 1}",
        "a list of output field names",
    ),
    "confidence field not a name": ("decision_fields: [risk]", "confidence_field: 3", "an output field name"),
    "confidence field unknown": (
        "decision_fields: [risk]",
        "confidence_field: confidenc",
        "did you mean 'confidence'",
    ),
    "perceive not a list": (
        'perceive: [{id: has_text, rule: "size(text) > 0", severity: warn}]',
        "perceive: yes",
        "a list of rules",
    ),
    "workflow efficiency of a wrong type": (
        "efficiency: {mode: naive, budget: {tokens_per_hour: 5000}}",
        "efficiency: [naive]",
        "a mode or a mapping",
    ),
    "known answer names no output": ("output: {risk: low}}]", "output: {rsk: low}}]", "did you mean 'risk'"),
    "bad CEL in a risk rule": ("medium: []", 'medium: ["amount >"]', "not a valid CEL"),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_settings_of_the_wrong_shape_say_what_is_expected(name: str) -> None:
    old, new, says = SHAPES[name]
    assert old in GOOD, name
    with pytest.raises(SpecError) as info:
        parse_spec(GOOD.replace(old, new), "wf.yaml")
    assert says in str(info.value)
    assert all(p.line > 0 for p in info.value.problems if "efficiency" in p.field or "perceive" in p.field)
