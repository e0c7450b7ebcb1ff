"""The step kinds of the spec (docs/spec.md "Steps", transform, validate, route, llm): the IR a good step
becomes, and for each bad shape the one problem that names its line, its dotted place and the fix.

Every spec below starts with the same three lines, so the first step is on line 4."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import (
    RESERVED_STEP_NAMES,
    LLMStepIR,
    RouteStepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

HEAD = "workflow: t\ninput: {amount: double, currency: string}\nsteps:\n"
CEL_FIX = "see docs/spec.md#expressions for the CEL syntax"


def good(steps: str) -> WorkflowIR:
    return parse_spec(HEAD + steps, "t.yaml")


def problems(steps: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(HEAD + steps, "t.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


# --- the step's shape ----------------------------------------------------------------------------------


def test_a_step_that_is_not_a_one_key_mapping_is_refused_at_its_item() -> None:
    msg = "each step is a mapping with one key, its name"
    assert problems("  - just_a_name\n") == [(4, "steps[0]", msg, "- just_a_name: {validate: [...]}")]
    two = '  - ok: {validate: [{id: a, rule: "true"}]}\n  - {a: 1, b: 2}\n'
    assert problems(two) == [(5, "steps[1]", msg, "- a: {validate: [...]}")]


def test_a_step_name_must_be_an_identifier() -> None:
    steps = '  - bad-name:\n      validate: [{id: a, rule: "true"}]\n'
    assert problems(steps) == [
        (4, "steps[0].bad-name", "step names must be identifiers", "use letters, digits and _")
    ]


def test_a_step_without_a_mapping_body_needs_its_kind() -> None:
    fix = "check:\n  validate: [...]  # or transform, route, llm"
    assert problems("  - check: 3\n") == [(4, "steps[0].check", "a step needs its kind", fix)]


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("      description: nothing to do\n", 0),
        ('      validate: [{id: a, rule: "true"}]\n      route: {x: "true"}\n', 2),
    ],
)
def test_a_step_has_exactly_one_kind(body: str, found: int) -> None:
    assert problems("  - check:\n" + body) == [
        (
            4,
            "steps[0].check",
            f"a step has exactly one kind, found {found}",
            "give one of transform, validate, route, llm",
        )
    ]


def test_an_unknown_key_beside_the_kind_is_named_with_the_closest_option() -> None:
    steps = '  - check:\n      validate: [{id: a, rule: "true"}]\n      retyr: {max_attempts: 2}\n'
    assert problems(steps) == [(6, "steps[0].check.retyr", "unknown key", "did you mean 'retry'?")]


def test_the_step_options_are_accepted_beside_the_kind() -> None:
    ir = good(
        "  - check:\n"
        "      description: people read this\n"
        '      validate: [{id: a, rule: "true"}]\n'
        "      retry: {max_attempts: 5, backoff_ms: 10}\n"
    )
    (step,) = ir.steps
    assert isinstance(step, ValidateStepIR)
    assert (step.retry.max_attempts, step.retry.backoff_ms) == (5, 10)
    assert step.recovery is None  # no `recovery:`: `retry` is the ladder


def test_retry_and_recovery_together_are_refused_at_the_retry_key() -> None:
    steps = (
        "  - check:\n"
        '      validate: [{id: a, rule: "true"}]\n'
        "      retry: {max_attempts: 2}\n"
        "      recovery: {ladder: [retry, dlq]}\n"
    )
    assert problems(steps) == [
        (
            6,
            "steps[0].check.retry",
            "a step has retry: or recovery:, not both",
            "move max_attempts and backoff_ms into recovery: {retry: {...}}",
        )
    ]


def test_a_recovery_ladder_is_kept_on_the_step() -> None:
    ir = good(
        "  - check:\n"
        '      validate: [{id: a, rule: "true"}]\n'
        "      recovery: {ladder: [retry, dlq], retry: {max_attempts: 4}}\n"
    )
    (step,) = ir.steps
    assert step.recovery is not None
    assert [r for r in step.recovery.ladder] == ["retry", "dlq"]


def test_default_retry_is_three_attempts_and_one_for_llm_steps() -> None:
    ir = good(
        '  - v: {validate: [{id: a, rule: "true"}]}\n'
        "  - t: {transform: {drop: [currency]}}\n"
        '  - r: {route: {x: "true"}}\n'
        "  - a: {llm: {prompt: 'p', output: {risk: string}}}\n"
    )
    assert [s.retry.max_attempts for s in ir.steps] == [3, 3, 3, 1]
    assert all(s.retry.on_exhausted == "dlq" for s in ir.steps)


# --- transform -----------------------------------------------------------------------------------------


def test_a_transform_that_is_not_a_mapping() -> None:
    assert problems("  - t:\n      transform: [upper]\n") == [
        (
            5,
            "steps[0].t.transform",
            "a mapping with set, rename, drop or function",
            'transform:\n  set: {currency: "upper(currency)"}',
        )
    ]


def test_an_unknown_transform_key() -> None:
    steps = "  - t:\n      transform:\n        sett: {currency: 'x'}\n"
    assert problems(steps) == [(6, "steps[0].t.transform.sett", "unknown key", "did you mean 'set'?")]


def test_a_transform_becomes_derive_rename_drop_and_function() -> None:
    ir = good(
        "  - t:\n"
        "      transform:\n"
        "        set:\n"
        '          currency: "upper(currency)"\n'
        '          cents: {expr: "int(amount * 100.0)", type: long, min: 0, max: 100}\n'
        "        rename: {amount: total}\n"
        "        drop: [currency]\n"
        "        function: 'mypkg.enrich:add_region'\n"
        "        outputs: {region: string, score: 'double?'}\n"
    )
    (t,) = ir.steps
    assert isinstance(t, TransformStepIR)
    # the typed entry is known at once; the untyped one takes the type of the field it overwrites
    assert [(d.field, d.expr, d.type, d.minimum, d.maximum) for d in t.derive] == [
        ("cents", "int(amount * 100.0)", "long", 0, 100),
        ("currency", "upper(currency)", "string", None, None),
    ]
    assert t.rename == {"amount": "total"}
    assert t.drop == ("currency",)
    assert t.function == "mypkg.enrich:add_region"
    assert [(f.name, f.type, f.optional) for f in t.function_outputs] == [
        ("region", "string", False),
        ("score", "double", True),
    ]


def test_a_transform_without_a_function_has_none() -> None:
    (t,) = good("  - t: {transform: {rename: {amount: total}}}\n").steps
    assert isinstance(t, TransformStepIR)
    assert t.function is None and t.function_outputs == () and t.derive == () and t.drop == ()


@pytest.mark.parametrize("function", ["'mypkg.enrich.add_region'", "5"])
def test_a_function_must_be_module_colon_callable(function: str) -> None:
    steps = f"  - t:\n      transform:\n        function: {function}\n"
    assert problems(steps) == [
        (
            6,
            "steps[0].t.transform.function",
            "a registered function as 'module:callable'",
            "function: mypkg.enrich:add_region",
        )
    ]


def test_a_typed_set_with_an_unknown_type() -> None:
    steps = '  - t:\n      transform:\n        set:\n          x: {expr: "amount", type: decimal}\n'
    assert problems(steps) == [
        (
            7,
            "steps[0].t.transform.set.x.type",
            "unknown type 'decimal'",
            "use one of string, long, int, double, float, boolean",
        )
    ]


def test_a_set_entry_that_is_neither_cel_nor_expr_and_type() -> None:
    steps = "  - t:\n      transform:\n        set:\n          x: 3\n"
    assert problems(steps) == [
        (
            7,
            "steps[0].t.transform.set.x",
            "a CEL expression or {expr: ..., type: ...}",
            'x: {expr: "amount * 1.1", type: double}',
        )
    ]


def test_a_broken_cel_in_set_is_one_problem_at_its_entry() -> None:
    """The unreadable expression is reported once: no follow-on 'needs a type' for the same entry."""
    untyped = problems('  - t:\n      transform:\n        set:\n          currency: "amount >"\n')
    assert [(line, field, fix) for line, field, _, fix in untyped] == [
        (7, "steps[0].t.transform.set.currency", CEL_FIX)
    ]
    assert untyped[0][2].startswith("not a valid CEL expression")
    typed = problems(
        '  - t:\n      transform:\n        set:\n          x: {expr: "amount >", type: double}\n'
    )
    assert [(line, field, fix) for line, field, _, fix in typed] == [
        (7, "steps[0].t.transform.set.x.expr", CEL_FIX)
    ]


def test_a_new_untyped_field_needs_a_type() -> None:
    steps = '  - t:\n      transform:\n        set:\n          usd: "amount * 1.1"\n'
    assert problems(steps) == [
        (
            7,
            "steps[0].t.transform.set.usd",
            "a new field needs a type",
            'usd: {expr: "amount * 1.1", type: double}',
        )
    ]


# --- validate ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["[]", "{a: 1}", "'amount > 0.0'"])
def test_validate_is_a_non_empty_list_of_rules(body: str) -> None:
    assert problems(f"  - v:\n      validate: {body}\n") == [
        (
            5,
            "steps[0].v.validate",
            "a list of rules",
            'validate:\n  - {id: positive_amount, rule: "amount > 0.0"}',
        )
    ]


def test_a_good_rule_beside_a_broken_one_still_has_its_fields_checked() -> None:
    steps = (
        "  - v:\n"
        "      validate:\n"
        '        - {id: a, rule: "amount > 0.0", severity: fatal}\n'
        '        - {id: b, rule: "amout > 0.0"}\n'
    )
    assert [(line, field, msg) for line, field, msg, _ in problems(steps)] == [
        (6, "steps[0].v.validate[0].severity", "unknown severity 'fatal'"),
        (7, "steps[0].v.validate[1].rule", "reads 'amout', which is not a field at this step"),
    ]


# --- route ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{}", "'amount > 0.0'", "[a, b]"])
def test_route_is_a_non_empty_mapping(body: str) -> None:
    assert problems(f"  - r:\n      route: {body}\n") == [
        (
            5,
            "steps[0].r.route",
            "a mapping of branch names to CEL conditions",
            'route:\n  auto_pay: "amount < 1000.0"\n  review: "true"',
        )
    ]


def test_a_branch_name_must_be_an_identifier() -> None:
    steps = '  - r:\n      route:\n        auto-pay: "true"\n'
    assert problems(steps) == [
        (6, "steps[0].r.route.auto-pay", "branch names must be identifiers", "use letters, digits and _")
    ]


@pytest.mark.parametrize("branch", ["3", "{steps: []}", "{when: 3}"])
def test_a_branch_is_a_condition_or_a_mapping_with_when(branch: str) -> None:
    steps = f'  - r:\n      route:\n        a: "amount > 1.0"\n        b: {branch}\n'
    assert problems(steps) == [
        (
            7,
            "steps[0].r.route.b",
            "a CEL condition or {when: ..., steps: [...], terminal: bool}",
            'b: "amount < 1000.0"',
        )
    ]


def test_a_branch_mapping_with_an_unknown_key() -> None:
    steps = '  - r:\n      route:\n        b:\n          when: "true"\n          terminall: true\n'
    assert problems(steps) == [(8, "steps[0].r.route.b.terminall", "unknown key", "did you mean 'terminal'?")]


def test_a_broken_branch_condition_is_named_at_the_branch_or_its_when() -> None:
    short = problems('  - r:\n      route:\n        b: "amount >"\n')
    assert [(line, field, fix) for line, field, _, fix in short] == [(6, "steps[0].r.route.b", CEL_FIX)]
    long = problems('  - r:\n      route:\n        b:\n          when: "amount >"\n')
    assert [(line, field, fix) for line, field, _, fix in long] == [(7, "steps[0].r.route.b.when", CEL_FIX)]


def test_a_route_keeps_its_branches_in_order_with_their_steps_and_terminal() -> None:
    ir = good(
        "  - triage:\n"
        "      as: decision\n"
        "      route:\n"
        '        fraud: {when: "amount >= 50000.0", terminal: true}\n'
        "        review:\n"
        '          when: "amount >= 1000.0"\n'
        '          steps: [{second: {validate: [{id: big, rule: "amount > 0.0"}]}}]\n'
        '        auto_pay: "true"\n'
    )
    (triage,) = ir.steps
    assert isinstance(triage, RouteStepIR)
    assert triage.field == "decision"
    assert [(b.name, b.when, b.terminal, len(b.steps)) for b in triage.branches] == [
        ("fraud", "amount >= 50000.0", True, 0),
        ("review", "amount >= 1000.0", False, 1),
        ("auto_pay", "true", False, 0),
    ]
    assert triage.branches[1].steps[0].name == "second"
    (plain,) = good('  - r: {route: {x: "true"}}\n').steps
    assert isinstance(plain, RouteStepIR) and plain.field == "route"


def test_a_problem_in_a_branch_step_names_the_path_through_the_branch() -> None:
    steps = (
        '  - r:\n      route:\n        b:\n          when: "true"\n          steps:\n            - inner: 3\n'
    )
    assert problems(steps) == [
        (
            9,
            "steps[0].r.route.b.steps[0].inner",
            "a step needs its kind",
            "inner:\n  validate: [...]  # or transform, route, llm",
        )
    ]


# --- llm -----------------------------------------------------------------------------------------------


def test_an_llm_that_is_not_a_mapping() -> None:
    assert problems("  - a:\n      llm: 'assess it'\n") == [
        (
            5,
            "steps[0].a.llm",
            "a mapping with prompt and output",
            "llm:\n  prompt: 'Assess {{ description }}'\n  output: {risk: string}",
        )
    ]


@pytest.mark.parametrize("reserved", ["name", "kind", "retry", "recovery", "output_fields"])
def test_keys_the_llm_mapping_reserves(reserved: str) -> None:
    steps = (
        f"  - a:\n      llm:\n        prompt: p\n        output: {{risk: string}}\n        {reserved}: 1\n"
    )
    assert problems(steps) == [
        (
            8,
            f"steps[0].a.llm.{reserved}",
            "unknown key",
            "the step's name is its key; put retry: and recovery: next to llm:, not inside it",
        )
    ]


def test_an_llm_when_is_checked_as_cel() -> None:
    steps = (
        '  - a:\n      llm:\n        prompt: p\n        output: {risk: string}\n        when: "amount >"\n'
    )
    found = problems(steps)
    assert [(line, field, fix) for line, field, _, fix in found] == [(8, "steps[0].a.llm.when", CEL_FIX)]


def test_an_llm_without_a_prompt_points_to_the_llm_docs() -> None:
    found = problems("  - a:\n      llm:\n        output: {risk: string}\n")
    assert [(field, fix) for _, field, _, fix in found] == [("steps[0].a.llm.prompt", "see docs/spec.md#llm")]
    assert found[0][2] == "Field required"


def test_an_llm_step_takes_its_name_as_template_id_unless_given() -> None:
    ir = good(
        "  - a: {llm: {prompt: 'p', output: {risk: string}, when: 'amount > 1.0'}}\n"
        "  - b: {llm: {prompt: 'p', output: {score: double}, template_id: assess_v2}}\n"
    )
    a, b = ir.steps
    assert isinstance(a, LLMStepIR) and isinstance(b, LLMStepIR)
    assert (a.template_id, b.template_id) == ("a", "assess_v2")
    assert a.when == "amount > 1.0" and b.when is None
    assert [(f.name, f.type) for f in a.output] == [("risk", "string")]


def test_every_bad_step_is_reported_not_only_the_first() -> None:
    steps = '  - bad-name: {validate: [{id: a, rule: "true"}]}\n  - other-bad: {validate: []}\n  - k: 3\n'
    assert [(line, field) for line, field, _, _ in problems(steps)] == [
        (4, "steps[0].bad-name"),
        (5, "steps[1].other-bad"),
        (6, "steps[2].k"),
    ]


def test_transform_and_route_steps_keep_their_retry_and_name_a_bad_one() -> None:
    ir = good(
        "  - t: {transform: {drop: [currency]}, retry: {max_attempts: 6}}\n"
        '  - r: {route: {x: "true"}, retry: {max_attempts: 7}}\n'
    )
    assert [s.retry.max_attempts for s in ir.steps] == [6, 7]
    found = problems('  - r:\n      route: {x: "true"}\n      retry: {max_attempts: 0}\n')
    assert [(line, field) for line, field, _, _ in found] == [(6, "steps[0].r.retry")]


def test_function_outputs_that_are_not_a_mapping_are_named_at_their_key() -> None:
    steps = "  - t:\n      transform:\n        function: 'm:f'\n        outputs: []\n"
    assert problems(steps) == [
        (7, "steps[0].t.transform.outputs", "a mapping of field names to types", "outputs:\n  amount: double")
    ]


def test_a_typed_set_with_a_broken_expression_is_named_at_its_expr_line() -> None:
    steps = (
        "  - t:\n      transform:\n        set:\n"  # the entry x on line 7, its expr on line 9
        '          x:\n            type: double\n            expr: "amount >"\n'
    )
    assert [(line, field) for line, field, _, _ in problems(steps)] == [
        (9, "steps[0].t.transform.set.x.expr")
    ]


def test_an_llm_without_output_and_a_bad_setting_are_named_at_their_lines() -> None:
    found = problems("  - a:\n      llm:\n        prompt: p\n")
    assert found == [
        (6, "steps[0].a.llm.output", "a mapping of field names to types", "output:\n  amount: double")
    ]
    found = problems(
        "  - a:\n      llm:\n        prompt: p\n        output: {risk: string}\n        temperature: hot\n"
    )
    assert [(line, field, fix) for line, field, _, fix in found] == [
        (8, "steps[0].a.llm.temperature", "see docs/spec.md#llm")
    ]


def test_a_misspelt_llm_key_gets_the_closest_key_not_pydantics_words() -> None:
    """docs/spec.md: an unknown key reads "unknown key" with a did-you-mean, in llm: as everywhere."""
    found = problems("  - a:\n      llm:\n        promt: p\n        output: {risk: string}\n")
    assert (6, "steps[0].a.llm.promt", "unknown key", "did you mean 'prompt'?") in found
    assert not any("Extra inputs" in message for _, _, message, _ in found)


def test_a_misspelt_limit_gets_the_closest_limit() -> None:
    spec = "  - a:\n      llm:\n        prompt: p\n        output: {risk: string}\n        limits: {rmp: 5}\n"
    assert problems(spec) == [(8, "steps[0].a.llm.limits.rmp", "unknown key", "did you mean 'rpm'?")]


def test_a_misspelt_knowledge_key_gets_the_closest_key() -> None:
    spec = "  - a:\n      llm:\n        prompt: p\n        output: {risk: string}\n"
    spec += "        knowledge: {sorces: [x]}\n"
    assert problems(spec) == [
        (8, "steps[0].a.llm.knowledge.sorces", "unknown key", "did you mean 'sources'?")
    ]


def test_every_key_the_llm_ir_takes_is_accepted_in_the_mapping() -> None:
    step = good(
        "  - a:\n      llm: {prompt: p, output: {risk: string}, system: s, temperature: 0.5,\n"
        "             limits: {rpm: 5, tpm: 100, concurrency: 2, timeout_s: 3.0, max_tokens: 64}}\n"
    ).steps[0]
    assert isinstance(step, LLMStepIR)
    assert (step.system, step.temperature, step.limits.rpm, step.limits.max_tokens) == ("s", 0.5, 5, 64)


@pytest.mark.parametrize("name", sorted(RESERVED_STEP_NAMES))
def test_a_top_level_step_named_after_a_topic_is_refused_at_its_line(name: str) -> None:
    """A step's name is its input boundary's, and these boundaries every workflow has (newcomer review F19:
    the refusal came from compiling, without a line, in another layout)."""
    found = problems(f'  - ok: {{validate: [{{id: a, rule: "true"}}]}}\n  - {name}:\n      validate: []\n')
    assert found == [
        (
            5,
            f"steps[1].{name}",
            f"step name '{name}' is reserved for a topic",
            f"rename the step, e.g. {name}_step",
        )
    ]


def test_a_step_inside_a_branch_may_take_such_a_name() -> None:
    spec = '  - r:\n      route:\n        big:\n          when: "amount > 1.0"\n          steps:\n'
    spec += '            - out: {validate: [{id: a, rule: "true"}]}\n        rest: "true"\n'
    ir = good(spec)
    branch = ir.steps[0].branches[0]  # type: ignore[union-attr]
    assert [s.name for s in branch.steps] == ["out"]
