"""The ladder's decisions (processors/recovery.py): the class of a failure, the rung that comes next, and
the spec errors that stop a ladder which could not work (docs/recovery.md). Expected rungs follow from the
ladder's documented order and rules, written down before the code ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.base import Outcome
from dana_workflows.processors.pipeline import CompileError, compile_pipeline
from dana_workflows.processors.recovery import Ladder, classify, classify_exception, ladder_of
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.dsl import Workflow, llm
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import LLMStepIR, RetryPolicyIR, TransformStepIR
from dana_workflows.workflow.recovery_ir import RecoveryIR, RecoveryRuleIR, Rung
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

FULL: tuple[Rung, ...] = ("retry", "fallback_model", "default", "review", "dlq")


def ladder(*rules: RecoveryRuleIR, attempts: int = 3) -> Ladder:
    step = LLMStepIR(
        name="s",
        prompt="p",
        output=(),
        fallback_models=("b",),
        recovery=RecoveryIR(
            ladder=FULL,
            retry={"max_attempts": attempts},  # type: ignore[arg-type]
            default={"risk": "unknown"},
            rules=rules,
        ),
    )
    return Ladder.of(step)


def walk(lad: Ladder, error_class: str, payload: dict[str, Any]) -> list[str]:
    """The rungs an event takes when every attempt fails with `error_class`, until one places it."""
    taken: list[str] = []
    position, retries = -1, lad.max_attempts - 1
    while True:
        choice = lad.choose(error_class, payload)
        position = lad.next_rung(choice, position, retries)
        rung = lad.rungs[position]
        taken.append(rung)
        if rung == "retry":
            retries -= 1
        elif rung != "fallback_model":
            return taken


SCHEMA_TO_DLQ = RecoveryRuleIR(when_error=("schema",), start_at="dlq")
QUOTA_TO_FALLBACK = RecoveryRuleIR(when_error=("quota",), start_at="fallback_model")
BIG_NEVER_DEFAULT = RecoveryRuleIR(when="amount > 1000.0", never=("default",))


def test_without_rules_the_ladder_is_walked_in_order() -> None:
    assert walk(ladder(), "timeout", {}) == ["retry", "retry", "fallback_model", "default"]


def test_a_schema_failure_skips_every_rung_before_dlq() -> None:
    assert walk(ladder(SCHEMA_TO_DLQ), "schema", {}) == ["dlq"]
    assert walk(ladder(SCHEMA_TO_DLQ), "server", {}) == ["retry", "retry", "fallback_model", "default"]


def test_quota_goes_to_the_fallback_at_once() -> None:
    assert walk(ladder(QUOTA_TO_FALLBACK), "quota", {}) == ["fallback_model", "default"]


def test_the_domain_rule_flips_at_its_threshold() -> None:
    lad = ladder(BIG_NEVER_DEFAULT)
    assert walk(lad, "server", {"amount": 1000.0}) == ["retry", "retry", "fallback_model", "default"]
    assert walk(lad, "server", {"amount": 1000.01}) == ["retry", "retry", "fallback_model", "review"]
    assert lad.choose("server", {"amount": 1000.01}).error_class == "high_risk"
    assert lad.choose("server", {"amount": 1000.01}).cause == "server"
    assert lad.choose("server", {"amount": 1000.0}).error_class == "server"


def test_a_domain_condition_that_cannot_be_evaluated_is_the_careful_case() -> None:
    assert walk(ladder(BIG_NEVER_DEFAULT), "server", {})[-1] == "review"


def test_a_domain_rule_that_only_relaxes_leaves_the_failure_its_own_class() -> None:
    small_no_review = RecoveryRuleIR(when="amount <= 1000.0", never=("review",))
    lad = ladder(small_no_review)
    assert lad.choose("step_error", {"amount": 20.0}).error_class == "step_error"
    assert walk(lad, "step_error", {"amount": 20.0}) == ["retry", "retry", "fallback_model", "default"]
    to_review = RecoveryRuleIR(when="amount > 1000.0", start_at="review")
    assert ladder(to_review).choose("step_error", {"amount": 2000.0}).error_class == "high_risk"
    assert ladder(to_review).choose("step_error", {"amount": 20.0}).error_class == "step_error"
    to_dlq = RecoveryRuleIR(when="amount > 1000.0", start_at="dlq")
    assert ladder(to_dlq).choose("timeout", {"amount": 2000.0}).error_class == "high_risk"


def test_rules_for_high_risk_apply_once_a_guarding_domain_rule_marks_the_event() -> None:
    high_risk_to_review = RecoveryRuleIR(when_error=("high_risk",), start_at="review")
    lad = ladder(BIG_NEVER_DEFAULT, high_risk_to_review)
    assert walk(lad, "server", {"amount": 5000.0}) == ["review"]  # no retry first: the rule applies
    assert walk(lad, "server", {"amount": 5.0}) == ["retry", "retry", "fallback_model", "default"]
    assert walk(ladder(high_risk_to_review), "server", {"amount": 5000.0})[0] == "retry"  # nothing marks it


def test_rules_combine_the_furthest_start_and_every_never() -> None:
    lad = ladder(
        QUOTA_TO_FALLBACK,
        RecoveryRuleIR(when_error=("quota",), start_at="default"),
        BIG_NEVER_DEFAULT,
    )
    assert walk(lad, "quota", {"amount": 5.0}) == ["default"]
    assert walk(lad, "quota", {"amount": 5000.0}) == ["review"]


def test_the_retry_rung_stops_when_its_attempts_are_spent() -> None:
    assert walk(ladder(attempts=1), "timeout", {}) == ["fallback_model", "default"]
    assert walk(ladder(attempts=4), "timeout", {}).count("retry") == 3


def test_retry_shorthand_is_a_ladder() -> None:
    step = TransformStepIR(
        name="t", retry=RetryPolicyIR(max_attempts=2, on_exhausted="default", default={"x": 1})
    )
    ir = ladder_of(step)
    assert (ir.ladder, ir.retry.max_attempts, ir.default) == (("retry", "default", "dlq"), 2, {"x": 1})
    plain = ladder_of(TransformStepIR(name="t", retry=RetryPolicyIR(max_attempts=1)))
    assert plain.ladder == ("retry", "dlq")
    assert walk(Ladder.of(TransformStepIR(name="t")), "step_error", {}) == ["retry", "retry", "dlq"]


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("insufficient_quota", "quota"),
        ("rate_limited", "rate_limit"),
        ("timeout", "timeout"),
        ("server_error", "server"),
        ("circuit_open", "server"),
        ("connection_error", "transport"),
        ("request", "refusal"),
        ("output_invalid", "schema"),
        ("enforce_violation", "enforce"),
        ("something new", "step_error"),
    ],
)
def test_llm_failures_are_classified_from_their_error_type(error_type: str, expected: str) -> None:
    env = Envelope("e", "r", "w", 1, "s", {})
    assert classify(Outcome.fail(env, "x", details={"error.type": error_type})) == expected


def test_exceptions_and_plain_failures_are_classified() -> None:
    assert classify_exception(TimeoutError()) == "timeout"
    assert classify_exception(ConnectionRefusedError()) == "transport"
    assert classify_exception(ValueError()) == "step_error"
    env = Envelope("e", "r", "w", 1, "s", {})
    assert classify(Outcome.fail(env, "x")) == "step_error"
    assert classify(Outcome.fail(env, "x", details={"error_class": "timeout"})) == "timeout"


# -- the spec ------------------------------------------------------------------------------------------

HEAD = "workflow: w\ninput: {amount: double, text: string}\nsteps:\n"
LLM = (
    "  - a:\n      llm: {prompt: 'x {{ text }}', output: {risk: string}FALLBACK}\n      recovery: RECOVERY\n"
)
VALIDATE = "  - v:\n      validate: [{id: r, rule: 'amount > 0.0'}]\n      recovery: RECOVERY\n"


def problems(step: str, recovery: str, fallback: str = ", fallback_models: [b]") -> str:
    text = HEAD + step.replace("RECOVERY", recovery).replace("FALLBACK", fallback)
    with pytest.raises(SpecError) as exc:
        compile_pipeline(parse_spec(text, "w.yaml"))
    return str(exc.value)


def test_a_good_ladder_parses() -> None:
    text = HEAD + LLM.replace("FALLBACK", ", fallback_models: [b]").replace(
        "RECOVERY",
        "{ladder: [retry, fallback_model, default, review], default: {risk: unknown}, "
        "rules: [{when_error: [schema, enforce], start_at: review}, {when: 'amount > 5.0', never: default}]}",
    )
    pipeline = compile_pipeline(parse_spec(text, "w.yaml"))
    node = pipeline.nodes["a"]
    assert node.ladder.rungs == FULL  # dlq added at the end
    assert pipeline.has_review
    assert node.fallback is not None and node.fallback.models == ("b",)  # type: ignore[attr-defined]
    assert node.processor.models == ("default",)  # type: ignore[attr-defined]


def test_an_unknown_rung_is_named_with_the_closest_one() -> None:
    msg = problems(VALIDATE, "{ladder: [retyr, dlq]}")
    assert "steps[0].v.recovery.ladder[0]" in msg and "unknown rung 'retyr'" in msg and "'retry'" in msg


def test_a_default_rung_needs_defaults() -> None:
    msg = problems(VALIDATE, "{ladder: [default, dlq]}")
    assert "recovery.default" in msg and "needs the payload fields it sets" in msg


def test_a_fallback_rung_needs_an_llm_step_with_fallback_models() -> None:
    assert "only llm steps call a model" in problems(VALIDATE, "{ladder: [fallback_model]}")
    msg = problems(LLM, "{ladder: [fallback_model]}", fallback="")
    assert "has no fallback_models" in msg and "add fallback_models" in msg


def test_bad_rules_are_named() -> None:
    assert "unknown error class 'qouta'" in problems(
        VALIDATE, "{ladder: [retry], rules: [{when_error: qouta, start_at: dlq}]}"
    )
    assert "recovery.rules[0].when" in problems(
        VALIDATE, "{ladder: [retry], rules: [{when: 'amount >', never: retry}]}"
    )
    assert "is not on this step's ladder" in problems(
        VALIDATE, "{ladder: [retry], rules: [{when_error: schema, start_at: review}]}"
    )
    assert "dlq cannot be ruled out" in problems(
        VALIDATE, "{ladder: [retry], rules: [{when_error: schema, never: [dlq]}]}"
    )
    assert "changes nothing" in problems(VALIDATE, "{ladder: [retry], rules: [{when_error: schema}]}")
    assert "needs when_error, when or both" in problems(
        VALIDATE, "{ladder: [retry], rules: [{start_at: dlq}]}"
    )


def test_dlq_is_last_and_retry_is_not_given_twice() -> None:
    assert "comes after dlq" in problems(VALIDATE, "{ladder: [dlq, retry]}")
    assert "twice" in problems(VALIDATE, "{ladder: [retry, retry]}")
    text = VALIDATE.replace(
        "      recovery: RECOVERY\n", "      retry: {max_attempts: 2}\n      recovery: RECOVERY\n"
    )
    assert "retry: or recovery:, not both" in problems(text, "{ladder: [retry]}")


def test_a_review_rung_cannot_share_its_topic_with_a_review_branch() -> None:
    text = (
        HEAD
        + VALIDATE.replace("RECOVERY", "{ladder: [review]}")
        + "  - r:\n      route:\n        review: {when: 'true', terminal: true}\n"
    )
    with pytest.raises(CompileError, match="rename it"):
        compile_pipeline(parse_spec(text, "w.yaml"))


def test_the_python_dsl_declares_the_same_ladder() -> None:
    wf = Workflow("w", input={"text": "string"}) | llm(
        "a",
        "x {{ text }}",
        {"risk": "string"},
        fallback_models=["b"],
        recovery={
            "ladder": ["fallback_model", "review"],
            "rules": [{"when_error": "quota", "start_at": "review"}],
        },
    )
    step = wf.build().steps[0]
    assert step.recovery is not None and step.recovery.ladder == ("fallback_model", "review", "dlq")
    assert step.recovery.rules[0].start_at == "review"


def test_the_docs_example_is_a_working_ladder() -> None:
    """docs/recovery.md's spec parses, compiles, and means what the page says about it."""
    page = (Path(__file__).resolve().parents[3] / "docs" / "recovery.md").read_text(encoding="utf-8")
    spec = page.split("```yaml\n", 1)[1].split("```", 1)[0]
    node = compile_pipeline(parse_spec(spec, "docs/recovery.md")).nodes["assess"]
    assert node.ladder.rungs == FULL
    assert walk(node.ladder, "schema", {"amount": 5.0}) == ["dlq"]
    assert walk(node.ladder, "quota", {"amount": 5.0}) == ["fallback_model", "default"]
    assert walk(node.ladder, "timeout", {"amount": 20000.0})[-1] == "review"


@pytest.mark.parametrize(
    ("recovery", "expected"),
    [
        ("[retry, dlq]", "recovery is a mapping with a ladder"),
        ("{retry: {max_attempts: 2}}", "recovery.ladder: a list of rungs"),
        ("{ladder: [retry], default: {amount: 0.0}}", "default is set but the ladder has no default rung"),
        ("{ladder: [retry], retry: {max_attempts: 0}}", "invalid retry rung"),
        ("{ladder: [retry], rules: {when_error: schema}}", "recovery.rules: a list of rules"),
        ("{ladder: [retry], rules: [schema]}", "a rule is a mapping"),
        ("{ladder: [retry], rules: [{when: 3, never: retry}]}", "a CEL condition"),
        ("{ladder: [retry], rules: [{when_error: timeout, start_at: retry, never: [retry]}]}", "also never"),
        ("{ladder: [retry], rtery: 1}", "recovery.rtery: unknown key"),
    ],
)
def test_every_ladder_mistake_names_its_place(recovery: str, expected: str) -> None:
    assert expected in problems(VALIDATE, recovery)


def test_a_ladder_built_in_python_is_checked_when_compiled() -> None:
    """The IR can be built without the parser; compiling still refuses a ladder that cannot work."""
    base = parse_spec(HEAD + "  - v: {validate: [{id: r, rule: 'true'}]}\n", "w.yaml")
    no_default = TransformStepIR(name="t", recovery=RecoveryIR(ladder=("default", "dlq")))
    with pytest.raises(CompileError, match="the default rung needs default fields"):
        compile_pipeline(base.model_copy(update={"steps": (no_default,)}))
    no_llm = TransformStepIR(name="t", recovery=RecoveryIR(ladder=("fallback_model", "dlq")))
    with pytest.raises(CompileError, match="needs an llm step with fallback_models"):
        compile_pipeline(base.model_copy(update={"steps": (no_llm,)}))
