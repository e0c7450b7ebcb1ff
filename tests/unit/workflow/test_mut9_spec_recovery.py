"""A step's `recovery:` block (docs/recovery.md): the ladder it becomes, and each check the module's
docstring lists (a rung that is not one, a default rung with nothing to set, a fallback_model rung with
no fallback model, a rule on a rung the ladder lacks, a CEL condition that does not compile) as one
problem naming its line, its place and the fix.

In every spec below the step is on line 4 and its `recovery:` key on line 6."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.recovery_ir import RecoveryIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

EXAMPLE = "recovery: {ladder: [retry, default, dlq], retry: {max_attempts: 3}, default: {risk: unknown}}"
VALIDATE = '  - v:\n      validate: [{id: a, rule: "true"}]\n'
LLM = "  - v:\n      llm: {prompt: p, output: {risk: string}, fallback_models: [small]}\n"
LLM_ALONE = "  - v:\n      llm: {prompt: p, output: {risk: string}}\n"
P = "steps[0].v.recovery"


def spec(recovery: str, step: str = VALIDATE) -> str:
    return f"workflow: w\ninput: {{amount: double}}\nsteps:\n{step}      recovery: {recovery}\n"


def ladder_of(recovery: str, step: str = VALIDATE) -> RecoveryIR:
    found = parse_spec(spec(recovery, step)).steps[0].recovery
    assert found is not None
    return found


def problems(recovery: str, step: str = VALIDATE) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec(recovery, step))
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


# --- what a good block becomes -----------------------------------------------------------------------


def test_a_ladder_always_ends_at_dlq_and_retry_defaults_to_three_attempts() -> None:
    ladder = ladder_of("{ladder: [retry]}")
    assert ladder.ladder == ("retry", "dlq")  # nothing is lost: an event the ladder cannot place goes to dlq
    assert (ladder.retry.max_attempts, ladder.retry.backoff_ms) == (3, 0)
    assert ladder.default is None and ladder.rules == ()


def test_a_full_block_keeps_its_rungs_retry_default_and_rules() -> None:
    ladder = ladder_of(
        "\n"
        "        ladder: [retry, fallback_model, default, dlq]\n"
        "        retry: {max_attempts: 2, backoff_ms: 50}\n"
        "        default: {risk: unknown}\n"
        "        rules:\n"
        "          - {when_error: schema, start_at: dlq}\n"
        "          - {when_error: [quota, timeout], never: default}\n"
        '          - {when: "amount > 10.0", never: [default, retry]}\n',
        LLM,
    )
    assert ladder.ladder == ("retry", "fallback_model", "default", "dlq")
    assert (ladder.retry.max_attempts, ladder.retry.backoff_ms) == (2, 50)
    assert ladder.default == {"risk": "unknown"}
    assert [(r.when_error, r.when, r.start_at, r.never) for r in ladder.rules] == [
        (("schema",), None, "dlq", ()),
        (("quota", "timeout"), None, None, ("default",)),
        ((), "amount > 10.0", None, ("default", "retry")),
    ]


# --- the block and its ladder ------------------------------------------------------------------------


@pytest.mark.parametrize("recovery", ["3", "[retry, dlq]", "dlq"])
def test_recovery_is_a_mapping(recovery: str) -> None:
    assert problems(recovery) == [(6, P, "recovery is a mapping with a ladder", EXAMPLE)]


def test_a_ladder_is_a_non_empty_list_at_its_key_or_the_block() -> None:
    assert problems("\n        retry: {max_attempts: 2}\n        ladder: []\n") == [
        (8, f"{P}.ladder", "a list of rungs", EXAMPLE)
    ]
    assert problems("\n        retry: {max_attempts: 2}\n") == [
        (7, f"{P}.ladder", "a list of rungs", EXAMPLE)
    ]


def test_an_unknown_key_in_the_block() -> None:
    assert problems("{ladder: [retry], rulez: []}") == [
        (6, f"{P}.rulez", "unknown key", "did you mean 'rules'?")
    ]


def test_each_rung_is_checked_at_its_line() -> None:
    found = problems(
        "\n        ladder:\n          - retyr\n          - retry\n          - retry\n          - dlq\n"
    )
    assert found == [
        (8, f"{P}.ladder[0]", "unknown rung 'retyr'", "did you mean 'retry'?"),
        (10, f"{P}.ladder[2]", "rung 'retry' is on the ladder twice", "name each rung once"),
    ]


def test_dlq_is_the_last_rung() -> None:
    assert problems("\n        ladder:\n          - dlq\n          - retry\n") == [
        (9, f"{P}.ladder[1]", "rung 'retry' comes after dlq", "dlq is the last rung: move it to the end")
    ]


# --- the rungs that need something -------------------------------------------------------------------


def test_the_default_rung_needs_its_fields() -> None:
    fix = "default: {risk: unknown, confidence: 0.0}"
    msg = "the default rung needs the payload fields it sets"
    assert problems("\n        ladder: [default]\n") == [(7, f"{P}.default", msg, fix)]
    assert problems("\n        ladder: [default]\n        default: {}\n") == [(8, f"{P}.default", msg, fix)]


def test_a_default_without_a_default_rung() -> None:
    assert problems("\n        ladder: [retry]\n        default: {risk: low}\n") == [
        (8, f"{P}.default", "default is set but the ladder has no default rung", EXAMPLE)
    ]


def test_a_fallback_model_rung_needs_an_llm_step() -> None:
    assert problems("\n        retry: {max_attempts: 2}\n        ladder: [fallback_model]\n") == [
        (
            8,
            f"{P}.ladder",
            "a fallback_model rung on a validate step: only llm steps call a model",
            "remove fallback_model from this step's ladder",
        )
    ]


def test_a_fallback_model_rung_needs_the_llm_steps_fallback_models() -> None:
    assert problems("\n        retry: {max_attempts: 2}\n        ladder: [fallback_model]\n", LLM_ALONE) == [
        (
            8,
            f"{P}.ladder",
            "a fallback_model rung, but the llm step has no fallback_models",
            "add fallback_models: [gpt-4o-mini] to the llm step, or remove the rung",
        )
    ]
    assert ladder_of("{ladder: [fallback_model]}", LLM).ladder == ("fallback_model", "dlq")


def test_an_invalid_retry_rung() -> None:
    assert problems("\n        ladder: [retry]\n        retry: {max_attempts: 0}\n") == [
        (
            8,
            f"{P}.retry",
            "invalid retry rung: Input should be greater than or equal to 1",
            "retry: {max_attempts: 3, backoff_ms: 100}",
        )
    ]


# --- rules -------------------------------------------------------------------------------------------


def rule_problems(rules: str, ladder: str = "[retry, default]") -> list[tuple[int, str, str, str]]:
    """Problems of a block whose rules start on line 10 (its ladder `ladder` plus dlq)."""
    return problems(
        f"\n        ladder: {ladder}\n        default: {{risk: low}}\n        rules:\n{rules}",
    )


def test_rules_are_a_list() -> None:
    assert problems("\n        ladder: [retry]\n        rules: {a: 1}\n") == [
        (8, f"{P}.rules", "a list of rules", "rules: [{when_error: schema, start_at: dlq}]")
    ]


def test_a_rule_is_a_mapping() -> None:
    assert rule_problems("          - dlq\n") == [
        (10, f"{P}.rules[0]", "a rule is a mapping", "{when_error: quota, start_at: fallback_model}")
    ]


def test_a_rule_names_known_error_classes_and_keys() -> None:
    assert rule_problems("          - {when_error: [schema, qouta], start: dlq, start_at: dlq}\n") == [
        (10, f"{P}.rules[0].start", "unknown key", "did you mean 'start_at'?"),
        (10, f"{P}.rules[0].when_error", "unknown error class 'qouta'", "did you mean 'quota'?"),
    ]


def test_a_rule_condition_is_a_cel_string() -> None:
    assert rule_problems("          - {when: 5, start_at: dlq}\n") == [
        (10, f"{P}.rules[0].when", "a CEL condition", "when: \"risk_tier == 'high'\"")
    ]
    ((line, field, message, fix),) = rule_problems('          - {when: "amount >", start_at: dlq}\n')
    assert (line, field, fix) == (10, f"{P}.rules[0].when", "see docs/spec.md#expressions for the CEL syntax")
    assert message.startswith("not a valid CEL expression")


def test_a_rule_needs_a_condition() -> None:
    assert rule_problems("          - {start_at: dlq}\n") == [
        (10, f"{P}.rules[0]", "a rule needs when_error, when or both", "{when_error: schema, start_at: dlq}")
    ]


def test_a_rule_names_rungs_of_its_ladder() -> None:
    found = rule_problems("          - {when_error: schema, start_at: fallback_model, never: review}\n")
    assert found == [
        (
            10,
            f"{P}.rules[0].start_at",
            "rung 'fallback_model' is not on this step's ladder ['retry', 'default', 'dlq']",
            "add it to the ladder, or use one of retry, default, dlq",
        ),
        (
            10,
            f"{P}.rules[0].never",
            "rung 'review' is not on this step's ladder ['retry', 'default', 'dlq']",
            "add it to the ladder, or use one of retry, default, dlq",
        ),
    ]


def test_dlq_cannot_be_ruled_out() -> None:
    assert rule_problems("          - {when_error: schema, never: dlq}\n") == [
        (10, f"{P}.rules[0].never", "dlq cannot be ruled out: it is the last resort", "remove dlq from never")
    ]


def test_a_rule_must_change_something() -> None:
    assert rule_problems("          - {when_error: schema}\n") == [
        (
            10,
            f"{P}.rules[0]",
            "a rule without start_at or never changes nothing",
            "add start_at: <rung> or never: [<rung>]",
        )
    ]


def test_a_rule_cannot_start_at_a_rung_it_rules_out() -> None:
    assert rule_problems("          - {when_error: schema, start_at: default, never: [default]}\n") == [
        (
            10,
            f"{P}.rules[0].start_at",
            "the rule starts at 'default' and also never uses it",
            "drop one of the two",
        )
    ]


def test_each_bad_rule_is_named_by_its_index() -> None:
    found = rule_problems(
        "          - {when_error: schema, start_at: dlq}\n          - {when_error: schema}\n"
    )
    assert [(line, field) for line, field, _, _ in found] == [(11, f"{P}.rules[1]")]


def test_a_retry_rung_that_is_not_a_mapping() -> None:
    ((line, field, message, fix),) = problems("\n        ladder: [retry]\n        retry: 3\n")
    assert (line, field, fix) == (8, f"{P}.retry", "retry: {max_attempts: 3, backoff_ms: 100}")
    assert message.startswith("invalid retry rung: ")


def test_a_rule_starting_at_a_rung_it_rules_out_is_named_at_start_at() -> None:
    found = rule_problems(
        "          - when_error: schema\n            never: [default]\n            start_at: default\n"
    )
    assert found == [
        (
            12,
            f"{P}.rules[0].start_at",
            "the rule starts at 'default' and also never uses it",
            "drop one of the two",
        )
    ]
