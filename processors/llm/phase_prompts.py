"""The messages of each POET call: naive perceive, combined perceive+operate+enforce, verify, repair.

One builder per message kind, shared by both modes, so a naive enforce call and an optimised
verification of the same answer are the same request (same reply, same cache key). The check and
objective lines quote each rule's id, CEL and message: the model is told exactly what the symbols test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dana_workflows.processors.llm.output import OutputSpec
from dana_workflows.processors.llm.prompt import RenderedPrompt
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.workflow.ir import FieldIR, RuleIR

GUARD_ID = "when"
INPUT_OK = "dwf_input_ok"
CONFIDENCE = "dwf_confidence"
VIOLATED = "dwf_violated"
PERCEIVE_TASK = "You check the input of a workflow step before the step runs."
VERIFY_TASK = "You verify the answer a model gave for a workflow step."


def rule_lines(rules: Sequence[RuleIR]) -> str:
    return "\n".join(f"- {r.id}: {r.expr}" + (f" ({r.message})" if r.message else "") for r in rules)


def perceive_system(step: str, checks: Sequence[RuleIR], when: str | None) -> str:
    parts = [PERCEIVE_TASK, f"Step: {step}."]
    if checks:
        parts.append("Checks the input must pass:\n" + rule_lines(checks))
    if when:
        parts.append(f"The step applies only when: {when} (check id: {GUARD_ID}).")
    parts.append(
        "Reply proceed=true when every check passes and the step applies; otherwise proceed=false and "
        "failed_check=the id of the first check that fails."
    )
    return "\n\n".join(parts)


def perceive_user(rendered: RenderedPrompt, payload: Mapping[str, Any]) -> str:
    return f"{rendered.user}\n\nInput record: {canonical_json(dict(payload))}"


def perceive_output(name: str) -> OutputSpec:
    return OutputSpec(
        (
            FieldIR(name="proceed", type="boolean"),
            FieldIR(name="failed_check", type="string", optional=True),
        ),
        f"{name}_perceive",
    )


def combined_system(
    rendered: RenderedPrompt, checks: Sequence[RuleIR], objectives: Sequence[RuleIR], asks_confidence: bool
) -> str:
    """The step's own system prompt plus the checks the structured reply must report."""
    parts = [rendered.system] if rendered.system else []
    if checks:
        parts.append(
            f"Before answering, check the input against these rules; set {INPUT_OK}=false if it breaks "
            "any of them or looks wrong in another way:\n" + rule_lines(checks)
        )
    if objectives:
        parts.append("Your answer must meet these objectives:\n" + rule_lines(objectives))
    if asks_confidence:
        parts.append(f"Set {CONFIDENCE} to the probability (0 to 1) that your answer is right.")
    return "\n\n".join(parts)


def with_fields(output: OutputSpec, extra: Sequence[FieldIR], suffix: str) -> OutputSpec:
    if not extra:
        return output
    return OutputSpec((*output.fields, *extra), f"{output.name}_{suffix}")


def combined_extra(has_checks: bool, asks_confidence: bool) -> tuple[FieldIR, ...]:
    extra: list[FieldIR] = []
    if has_checks:
        extra.append(FieldIR(name=INPUT_OK, type="boolean", optional=True))
    if asks_confidence:
        extra.append(FieldIR(name=CONFIDENCE, type="double", optional=True))
    return tuple(extra)


def verify_system(step: str, objectives: Sequence[RuleIR]) -> str:
    parts = [VERIFY_TASK, f"Step: {step}."]
    if objectives:
        parts.append("The answer must meet these objectives:\n" + rule_lines(objectives))
    parts.append(
        "Check the answer against the objectives and the facts of the input. Reply with the right answer "
        f"in the same fields: repeat it if it is right, correct it if it is not, and set {VIOLATED} to the "
        "id of the objective or the fact it broke (null when it broke none)."
    )
    return "\n\n".join(parts)


def verify_user(rendered: RenderedPrompt, answer: Mapping[str, Any]) -> str:
    return f"{rendered.user}\n\nAnswer to verify: {canonical_json(dict(answer))}"


def verify_output(output: OutputSpec) -> OutputSpec:
    return with_fields(output, (FieldIR(name=VIOLATED, type="string", optional=True),), "verify")


def repair_history(answer: Mapping[str, Any], broken: Sequence[RuleIR]) -> tuple[dict[str, str], ...]:
    """The one send-back: the answer, then the rules it broke, by name."""
    named = "; ".join(f"'{r.id}': {r.expr}" + (f" ({r.message})" if r.message else "") for r in broken)
    return (
        {"role": "assistant", "content": canonical_json(dict(answer))},
        {
            "role": "user",
            "content": f"Your answer breaks the objective {named}. Answer again so that it holds.",
        },
    )
