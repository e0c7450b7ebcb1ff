"""The POET and efficiency parts of the spec (docs/efficiency.md, the module's docstring): what a good
setting becomes, and for each bad one a single problem with its line, its place and its fix.

The llm step is on line 4; its `efficiency:` key is on line 8 and the settings start on line 9."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.workflow.efficiency_ir import EfficiencyIR
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import LLMStepIR, RouteStepIR, WorkflowIR
from dana_workflows.workflow.spec import parse_spec
from dana_workflows.workflow.spec_efficiency import llm_steps_of

pytestmark = pytest.mark.unit

E = "steps[0].assess.llm.efficiency"
RISK_FIX = 'risk: {high: ["amount > 5000.0"], medium: [], confidence_floor: 0.6}'
BYPASS_FIX = "bypass: {error_bound: 0.01, confidence_level: 0.95}"
BUDGET_FIX = "budget: {tokens_per_hour: 100000, cost_per_hour: 2.0, fallback: {risk: review}}"
KNOWN_FIX = "known_answers: [{when: \"sku == 'GIFT'\", output: {decision: deny}}]"
CEL_FIX = "see docs/spec.md#expressions for the CEL syntax"


def spec(efficiency: str, extra: str = "", top: str = "") -> str:
    return (
        f"workflow: w\ninput: {{amount: double, text: string}}\nsteps:\n"
        "  - assess:\n"
        "      llm:\n"
        "        prompt: p\n"
        "        output: {risk: string, confidence: double}\n"
        f"        efficiency:{efficiency}\n{extra}{top}"
    )


def block(*lines: str) -> str:
    """Settings under `efficiency:`, one per line from line 9."""
    return "".join(f"\n          {line}" for line in lines)


def step_of(ir: WorkflowIR) -> LLMStepIR:
    step = ir.steps[0]
    assert isinstance(step, LLMStepIR)
    return step


def efficiency(text: str, base_dir: Path | None = None) -> EfficiencyIR:
    return step_of(parse_spec(text, base_dir=base_dir)).efficiency


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


# --- a good step's settings --------------------------------------------------------------------------


def test_the_settings_reach_the_ir() -> None:
    eff = efficiency(
        spec(
            block(
                "mode: naive",
                'risk: {high: ["amount > 10.0"], medium: ["risk == \'mid\'"], confidence_floor: 0.7}',
                "bypass: {error_bound: 0.02, confidence_level: 0.9}",
                "budget: {tokens_per_hour: 500, fallback: {risk: review}}",
                "known_answers: [{when: \"text == 'gift'\", output: {risk: low}}]",
                "decision_fields: risk",
                "confidence_field: confidence",
            )
        )
    )
    assert eff.mode == "naive"
    assert (eff.risk.high, eff.risk.medium, eff.risk.confidence_floor) == (
        ("amount > 10.0",),
        ("risk == 'mid'",),
        0.7,
    )
    assert (eff.bypass.error_bound, eff.bypass.confidence_level) == (0.02, 0.9)
    assert eff.budget is not None
    assert (eff.budget.tokens_per_hour, eff.budget.fallback) == (500, {"risk": "review"})
    assert [(k.when, k.output) for k in eff.known_answers] == [("text == 'gift'", {"risk": "low"})]
    assert eff.decision_fields == ("risk",)  # one name is a list of one
    assert eff.confidence_field == "confidence"


def test_no_settings_are_the_defaults() -> None:
    text = (
        "workflow: w\ninput: {amount: double}\nsteps:\n"
        + "  - assess: {llm: {prompt: p, output: {risk: string}}}\n"
    )
    eff = efficiency(text)
    assert eff.mode is None and eff.budget is None and eff.workflow_budget is None
    assert eff.known_answers == () and eff.decision_fields == () and eff.confidence_field is None
    assert eff.risk.high == () and eff.risk.confidence_floor == 0.5


# --- bad step settings -------------------------------------------------------------------------------


def test_efficiency_is_a_mapping() -> None:
    assert problems(spec(" optimised")) == [(8, E, "a mapping", "efficiency: {mode: optimised, risk: {...}}")]


def test_an_unknown_setting_and_an_unknown_mode() -> None:
    assert problems(spec(block("risks: {}", "mode: lazy"))) == [
        (9, f"{E}.risks", "unknown key", "did you mean 'risk'?"),
        (10, f"{E}.mode", "unknown efficiency mode 'lazy'", "use one of: naive, optimised"),
    ]


@pytest.mark.parametrize(
    ("name", "fix"), [("risk", RISK_FIX), ("bypass", BYPASS_FIX), ("budget", BUDGET_FIX)]
)
def test_each_section_is_a_mapping(name: str, fix: str) -> None:
    assert problems(spec(block(f"{name}: strict"))) == [(9, f"{E}.{name}", f"'{name}' is a mapping", fix)]


def test_a_bad_value_is_named_at_its_own_line() -> None:
    found = problems(spec(block("risk:", "  medium: []", "  confidence_floor: 1.5")))
    assert found == [(11, f"{E}.risk.confidence_floor", "Input should be less than or equal to 1", RISK_FIX)]


def test_a_bad_item_of_a_list_is_named_at_the_item() -> None:
    found = problems(spec(block("risk:", "  high:", '    - "amount > 1.0"', "    - 3")))
    assert found == [(12, f"{E}.risk.high.1", "Input should be a valid string", RISK_FIX)]


def test_an_unknown_key_in_a_section_is_one_problem_with_a_suggestion() -> None:
    assert problems(spec(block("bypass:", "  error_bond: 0.1"))) == [
        (10, f"{E}.bypass.error_bond", "unknown key", "did you mean 'error_bound'?")
    ]


@pytest.mark.parametrize(
    ("setting", "field", "fix"),
    [
        ("bypass: {error_bound: 0}", "bypass.error_bound", BYPASS_FIX),
        ("budget: {tokens_per_hour: 0}", "budget.tokens_per_hour", BUDGET_FIX),
        ("budget: {cost_per_hour: 0}", "budget.cost_per_hour", BUDGET_FIX),
    ],
)
def test_a_bound_or_budget_of_zero(setting: str, field: str, fix: str) -> None:
    assert problems(spec(block(setting))) == [(9, f"{E}.{field}", "Input should be greater than 0", fix)]


def test_a_risk_rule_that_does_not_compile_is_reported_once() -> None:
    found = problems(spec(block("risk:", "  high:", '    - "amount >"')))
    assert [(line, field, fix) for line, field, _, fix in found] == [(11, f"{E}.risk.high[0]", CEL_FIX)]


@pytest.mark.parametrize("value", ["3", "{when: x}"])
def test_known_answers_are_a_list(value: str) -> None:
    assert problems(spec(block(f"known_answers: {value}"))) == [
        (9, f"{E}.known_answers", "a list of {when, output}", KNOWN_FIX)
    ]


@pytest.mark.parametrize(
    "item", ["3", "{when: 3, output: {risk: low}}", "{when: 'true', output: low}", "{when: 'true'}"]
)
def test_a_known_answer_is_when_and_output(item: str) -> None:
    found = problems(spec(block("known_answers:", "  - {when: 'true', output: {risk: low}}", f"  - {item}")))
    assert found == [
        (11, f"{E}.known_answers[1]", "a known answer is {when: CEL, output: {field: value}}", KNOWN_FIX)
    ]


def test_a_known_answer_with_an_unknown_key_or_a_broken_condition() -> None:
    found = problems(spec(block("known_answers:", "  - {when: 'true', output: {risk: low}, why: x}")))
    assert found == [(10, f"{E}.known_answers[0].why", "unknown key", "use one of: output, when")]
    found = problems(spec(block("known_answers:", "  - {when: 'amount >', output: {risk: low}}")))
    assert [(line, field, fix) for line, field, _, fix in found] == [
        (10, f"{E}.known_answers[0].when", CEL_FIX)
    ]


@pytest.mark.parametrize("value", ["{a: 1}", "[risk, 3]"])
def test_decision_fields_are_names(value: str) -> None:
    assert problems(spec(block(f"decision_fields: {value}"))) == [
        (9, f"{E}.decision_fields", "a list of output field names", "decision_fields: [risk]")
    ]


def test_the_confidence_field_is_a_name() -> None:
    assert problems(spec(block("confidence_field: 3"))) == [
        (9, f"{E}.confidence_field", "an output field name", "confidence_field: score")
    ]


# --- names and reads checked against the step's fields -----------------------------------------------


def test_named_fields_must_be_output_fields_of_the_step() -> None:
    found = problems(
        spec(
            block(
                "decision_fields: [rsk]",
                "confidence_field: confidenc",
                "known_answers: [{when: 'true', output: {rsk: low}}]",
                "budget:",
                "  tokens_per_hour: 5",
                "  fallback: {rsk: high}",
            )
        )
    )
    assert found == [
        (9, E, "'rsk' is not an output field of the step", "did you mean 'risk'?"),
        (10, E, "'confidenc' is not an output field of the step", "did you mean 'confidence'?"),
        (
            11,
            f"{E}.known_answers[0].output.rsk",
            "'rsk' is not an output field of the step",
            "did you mean 'risk'?",
        ),
        (13, f"{E}.budget.fallback.rsk", "'rsk' is not an output field of the step", "did you mean 'risk'?"),
    ]


def test_rules_before_the_call_cannot_read_its_output_rules_after_can() -> None:
    extra = (
        "        perceive:\n"
        '          - {id: p_ok, rule: "size(text) > 0"}\n'
        "          - {id: p_bad, rule: \"risk != ''\"}\n"
        "        enforce:\n"
        "          - {id: e_ok, rule: \"risk != '' && amount > 0.0\"}\n"
    )
    found = problems(
        spec(
            block(
                "known_answers: [{when: \"risk == 'x'\", output: {risk: low}}]",
                "risk: {high: [\"risk == 'high'\"]}",
            ),
            extra,
        )
    )
    not_field = "reads 'risk', which is not a field at this step"
    assert [(line, field, msg) for line, field, msg, _ in found] == [
        (13, "steps[0].assess.llm.perceive.p_bad", not_field),
        (9, f"{E}.known_answers[0].when", not_field),
    ]


def test_perceive_and_enforce_are_lists_of_rules() -> None:
    found = problems(spec(" {}", "        perceive: yes\n"))
    assert found == [
        (9, "steps[0].assess.llm.perceive", "a list of rules", '- {id: has_text, rule: "size(reason) > 0"}')
    ]


# --- the workflow's efficiency -----------------------------------------------------------------------


def top(value: str) -> str:
    return spec(" {}", "", f"efficiency: {value}\n")


def test_the_workflow_mode_and_budget_reach_every_llm_step_unless_the_step_sets_its_mode() -> None:
    eff = efficiency(top("{mode: naive, budget: {tokens_per_hour: 100}}"))
    assert eff.mode == "naive"
    assert eff.workflow_budget is not None and eff.workflow_budget.tokens_per_hour == 100
    assert efficiency(top("optimised")).mode == "optimised"
    own = spec(block("mode: optimised"), "", "efficiency: naive\n")
    assert efficiency(own).mode == "optimised"


def test_the_workflow_settings_reach_llm_steps_in_branches() -> None:
    text = (
        "workflow: w\nefficiency: {mode: naive, budget: {cost_per_hour: 2.0}}\n"
        "input: {amount: double}\nsteps:\n"
        "  - first: {llm: {prompt: p, output: {a: string}}}\n"
        "  - r:\n"
        "      route:\n"
        "        big: {when: 'amount > 1.0', steps: [{inner: {llm: {prompt: p, output: {b: string}}}}]}\n"
        "        small: 'true'\n"
    )
    ir = parse_spec(text)
    route = ir.steps[1]
    assert isinstance(route, RouteStepIR)
    inner = route.branches[0].steps[0]
    assert isinstance(inner, LLMStepIR)
    assert inner.efficiency.mode == "naive"
    assert (
        inner.efficiency.workflow_budget is not None and inner.efficiency.workflow_budget.cost_per_hour == 2.0
    )
    assert [s.name for s in llm_steps_of(ir.steps)] == ["first", "inner"]


def test_bad_workflow_efficiency() -> None:
    assert problems(top("[naive]")) == [(9, "efficiency", "a mode or a mapping", "efficiency: naive")]
    assert problems(top("lazy")) == [
        (9, "efficiency", "unknown efficiency mode 'lazy'", "use one of: naive, optimised")
    ]
    assert problems(top("{mode: naive, budgt: {}}")) == [
        (9, "efficiency.budgt", "unknown key", "did you mean 'budget'?")
    ]
    assert problems(top("{budget: {tokens_per_hour: 0}}")) == [
        (9, "efficiency.budget.tokens_per_hour", "Input should be greater than 0", BUDGET_FIX)
    ]


def test_file_paths_are_resolved_against_the_specs_folder(tmp_path: Path) -> None:
    settings = block(
        "bypass: {calibration: cal.json}",
        "risk: {novelty: [{field: text, baseline: base/b.json, monitor: m}]}",
    )
    eff = efficiency(spec(settings), base_dir=tmp_path)
    assert eff.bypass.calibration == str(tmp_path / "cal.json")
    assert [n.baseline for n in eff.risk.novelty] == [str(tmp_path / "base" / "b.json")]
    kept = efficiency(spec(block("bypass: {calibration: /abs/cal.json}")), base_dir=tmp_path)
    assert kept.bypass.calibration == "/abs/cal.json"
    assert efficiency(spec(settings)).bypass.calibration == "cal.json"  # no folder given: as written
    assert efficiency(spec(block("bypass: {error_bound: 0.1}")), base_dir=tmp_path).bypass.calibration is None


def test_a_novelty_entry_missing_a_setting_is_named_at_the_entry() -> None:
    found = problems(spec(block("risk:", "  novelty:", "    - {field: text, monitor: m}")))
    assert found == [(11, f"{E}.risk.novelty.0.baseline", "Field required", RISK_FIX)]
