"""What the spec parser's parts share (workflow/spec_support.py), through whole specs: field lists, rules
and retry policies, each problem with its line, place, message and fix (docs/spec.md)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec
from dana_workflows.workflow.spec_support import line_of, loc, parse_type, suggest

pytestmark = pytest.mark.unit

STEP = '  - v: {validate: [{id: a, rule: "true"}]}\n'
RETRY_HEAD = "workflow: w\ninput: {amount: double}\nsteps:\n  - v:\n      validate: [{id: a, rule: 'true'}]\n"
TYPES = "use one of string, long, int, double, float, boolean (add '?' for optional, e.g. 'string?')"


def problems(text: str) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.yaml")
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


def test_types_and_optional_types() -> None:
    assert parse_type("string") == ("string", False)
    assert parse_type("double?") == ("double", True)
    assert parse_type("decimal") is None and parse_type("decimal?") is None and parse_type(3) is None


def test_suggest_and_loc() -> None:
    assert suggest("stpes", ("steps", "input")) == "did you mean 'steps'?"
    assert suggest("zzz", ("steps", "input")) == "use one of: input, steps"
    assert loc(("a", 0, "b")) == "a.0.b"


def test_line_of_something_without_positions_is_zero() -> None:
    assert line_of(None) == 0 and line_of({"a": 1}, "a") == 0


def test_input_fields_their_types_and_names() -> None:
    text = "workflow: w\ninput:\n  amount: decimal\n  bad-name: string\n  ok: 'long?'\nsteps:\n" + STEP
    assert problems(text) == [
        (3, "input.amount", "unknown type 'decimal'", TYPES),
        (4, "input.bad-name", "field names must be identifiers", "use letters, digits and _"),
    ]
    good = parse_spec("workflow: w\ninput:\n  ok: 'long?'\n  s: string\nsteps:\n" + STEP)
    assert [(f.name, f.type, f.optional) for f in good.input] == [
        ("ok", "long", True),
        ("s", "string", False),
    ]


@pytest.mark.parametrize("inputs", ["{}", "[a, b]", "amount"])
def test_input_is_a_mapping_of_fields(inputs: str) -> None:
    assert problems(f"workflow: w\ninput: {inputs}\nsteps:\n{STEP}") == [
        (2, "input", "a mapping of field names to types", "input:\n  amount: double")
    ]


def rule_problems(rule: str) -> list[tuple[int, str, str, str]]:
    return problems(
        f"workflow: w\ninput: {{amount: double}}\nsteps:\n  - v:\n      validate:\n        - {rule}\n"
    )


def test_a_rule_is_a_mapping_with_an_id_and_an_expression() -> None:
    assert rule_problems("just text") == [
        (6, "steps[0].v.validate[0]", "a rule is a mapping", '{id: positive_amount, rule: "amount > 0.0"}')
    ]
    assert rule_problems('{rule: "amount > 0.0"}') == [
        (6, "steps[0].v.validate[0].id", "every rule needs an id", "id: positive_amount")
    ]
    assert rule_problems("{id: '', rule: 'true'}") == [
        (6, "steps[0].v.validate[0].id", "every rule needs an id", "id: positive_amount")
    ]
    assert rule_problems("{id: a}") == [
        (6, "steps[0].v.validate[0].rule", "every rule needs a CEL expression", 'rule: "amount > 0.0"')
    ]
    assert rule_problems("{id: a, rule: 3}") == [
        (6, "steps[0].v.validate[0].rule", "every rule needs a CEL expression", 'rule: "amount > 0.0"')
    ]


def test_a_rule_key_severity_and_message() -> None:
    assert rule_problems("{id: a, rule: 'true', sevrity: warn}") == [
        (6, "steps[0].v.validate[0].sevrity", "unknown key", "did you mean 'severity'?")
    ]
    assert rule_problems("{id: a, rule: 'true', severity: block}") == [
        (6, "steps[0].v.validate[0].severity", "unknown severity 'block'", "severity: reject or warn")
    ]
    ir = parse_spec(
        "workflow: w\ninput: {amount: double}\nsteps:\n"
        "  - v: {validate: [{id: a, rule: 'amount > 0.0', message: must be positive, severity: warn}, "
        "{id: b, rule: 'true'}]}\n"
    )
    rules = ir.steps[0].rules  # type: ignore[union-attr]
    assert [(r.id, r.expr, r.message, r.severity) for r in rules] == [
        ("a", "amount > 0.0", "must be positive", "warn"),
        ("b", "true", "", "reject"),
    ]


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ("{max_attempts: 0}", "invalid retry policy: Input should be greater than or equal to 1"),
        ("{on_exhausted: later}", "invalid retry policy: Input should be 'dlq' or 'default'"),
    ],
)
def test_a_bad_retry_policy(retry: str, message: str) -> None:
    text = RETRY_HEAD + f"      retry: {retry}\n"
    assert problems(text) == [
        (6, "steps[0].v.retry", message, "retry: {max_attempts: 3, backoff_ms: 100, on_exhausted: dlq}")
    ]


def test_a_misspelt_retry_key_gets_the_closest_key() -> None:
    text = RETRY_HEAD + "      retry: {max_attemps: 2}\n"
    assert problems(text) == [
        (6, "steps[0].v.retry.max_attemps", "unknown key", "did you mean 'max_attempts'?")
    ]


def test_a_retry_that_is_not_a_mapping() -> None:
    text = RETRY_HEAD + "      retry: 3\n"
    ((line, field, message, fix),) = problems(text)
    assert (line, field, fix) == (
        6,
        "steps[0].v.retry",
        "retry: {max_attempts: 3, backoff_ms: 100, on_exhausted: dlq}",
    )
    assert message.startswith("invalid retry policy: ")


def test_a_retry_keeps_the_defaults_it_does_not_set() -> None:
    ir = parse_spec(
        "workflow: w\ninput: {amount: double}\nsteps:\n"
        "  - v: {validate: [{id: a, rule: 'true'}], retry: {backoff_ms: 50}}\n"
        "  - a: {llm: {prompt: p, output: {r: string}}, retry: {backoff_ms: 5}}\n"
    )
    v, a = ir.steps
    assert (v.retry.max_attempts, v.retry.backoff_ms, v.retry.on_exhausted) == (3, 50, "dlq")
    assert (a.retry.max_attempts, a.retry.backoff_ms) == (1, 5)  # an llm step's default: one attempt
