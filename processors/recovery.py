"""The recovery ladder's decisions: which error class a failed attempt is, and which rung comes next.

The executor (processors/executor.py) runs the rungs; this module only decides, so both runtimes decide
the same by construction. The names (rungs, error classes) live in workflow/recovery_ir.py, below the
spec parser that checks them, and are re-exported here for the runtimes, the CLI and the reports.

How a rung is chosen (docs/recovery.md): after a failure, every rule whose conditions hold applies;
the furthest `start_at` among them is where the search starts, and their `never` rungs are skipped.
The search goes down the ladder and never up: a rung already left is not tried again, except the retry
rung, which is tried again while it has attempts left. dlq is always there at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from dana_workflows.processors.base import Outcome
from dana_workflows.workflow.cel_expr import CompiledExpr, compile_expr
from dana_workflows.workflow.ir import StepIR
from dana_workflows.workflow.recovery_ir import (
    DEFAULT,
    DLQ,
    ENFORCE,
    ERROR_CLASSES,
    FALLBACK_MODEL,
    HIGH_RISK,
    QUOTA,
    RATE_LIMIT,
    REFUSAL,
    RETRY,
    REVIEW,
    RUNGS,
    SCHEMA,
    SERVER,
    STEP_ERROR,
    TIMEOUT,
    TRANSPORT,
    LadderRetryIR,
    RecoveryIR,
    Rung,
)

__all__ = [
    "DEFAULT",
    "DLQ",
    "ENFORCE",
    "ERROR_CLASSES",
    "FALLBACK_MODEL",
    "HIGH_RISK",
    "QUOTA",
    "RATE_LIMIT",
    "REFUSAL",
    "RETRY",
    "REVIEW",
    "RUNGS",
    "SCHEMA",
    "SERVER",
    "STEP_ERROR",
    "TIMEOUT",
    "TRANSPORT",
    "Choice",
    "Ladder",
    "classify",
    "classify_exception",
    "ladder_of",
]

# The audit details key of the error class a failed attempt was given (error and recovery rows).
ERROR_CLASS_KEY = "error_class"
# error.type of an llm answer that still broke an enforce rule after its send-back (processors/llm)
ENFORCE_VIOLATION = "enforce_violation"


def ladder_of(step: StepIR) -> RecoveryIR:
    """The step's declared ladder, or the one its `retry:` shorthand stands for: retry up to
    max_attempts, then the default (when on_exhausted is default and there is one), then dlq."""
    if step.recovery is not None:
        return step.recovery
    policy = step.retry
    has_default = policy.on_exhausted == "default" and policy.default is not None
    rungs: tuple[Rung, ...] = ("retry", "default", "dlq") if has_default else ("retry", "dlq")
    return RecoveryIR(
        ladder=rungs,
        retry=LadderRetryIR(max_attempts=policy.max_attempts, backoff_ms=policy.backoff_ms),
        default=policy.default if has_default else None,
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    errors: frozenset[str]  # empty: any class
    when: CompiledExpr | None
    start: int  # index on the ladder; 0 when the rule names no start_at
    never: frozenset[str]
    guards: bool  # a domain rule that keeps the event from an unattended ending (see Ladder.choose)

    def names(self, error_class: str) -> bool:
        """Whether the failure's own class is one this rule is for."""
        return not self.errors or error_class in self.errors


@dataclass(frozen=True, slots=True)
class Choice:
    """What the rules say about one failure: where the search starts, what it skips, and the class the
    failure is counted under (high_risk when a domain rule matched; docs/recovery.md)."""

    start: int
    never: frozenset[str]
    error_class: str
    cause: str  # the class of the failure itself


@dataclass(frozen=True, slots=True)
class Ladder:
    rungs: tuple[str, ...]
    max_attempts: int  # of the step, the first attempt included
    backoff_ms: int
    default: dict[str, Any] | None
    rules: tuple[_Rule, ...]

    @classmethod
    def of(cls, step: StepIR) -> Ladder:
        ir = ladder_of(step)
        rules = tuple(
            _Rule(
                frozenset(r.when_error),
                compile_expr(r.when) if r.when else None,
                ir.ladder.index(r.start_at) if r.start_at else 0,
                frozenset(r.never),
                r.when is not None and (r.start_at in (REVIEW, DLQ) or DEFAULT in r.never),
            )
            for r in ir.rules
        )
        return cls(ir.ladder, ir.retry.max_attempts, ir.retry.backoff_ms, ir.default, rules)

    def choose(self, error_class: str, payload: Mapping[str, Any]) -> Choice:
        """Combine every rule that applies to this failure of this event.

        The failure is high risk when a guarding domain rule applies: one with `when` that sends the event
        to review or dlq, or rules out the default (a rule that only relaxes, `never: [review]` for small
        amounts, does not make an event risky). Then rules written for `when_error: high_risk` apply too."""
        holding = [r for r in self.rules if r.when is None or _holds(r.when, payload)]
        risky = any(r.guards and r.names(error_class) for r in holding)
        start, never = 0, frozenset[str]()
        for rule in holding:
            if rule.names(error_class) or (risky and HIGH_RISK in rule.errors):
                start = max(start, rule.start)
                never = never | rule.never
        return Choice(start, never, HIGH_RISK if risky else error_class, error_class)

    def next_rung(self, choice: Choice, position: int, retries_left: int) -> int:
        """The index of the rung to try after the one at `position` (-1: none tried yet)."""
        for i in range(max(position, choice.start, 0), len(self.rungs)):
            rung = self.rungs[i]
            if rung in choice.never:
                continue
            if rung == RETRY:
                if retries_left > 0:
                    return i
                continue
            if i != position:
                return i
        return len(self.rungs) - 1  # dlq: the parser puts it last and no rule can rule it out


def _holds(expr: CompiledExpr, payload: Mapping[str, Any]) -> bool:
    """A domain condition that cannot be evaluated on this payload counts as true: such a rule guards
    against something, and the careful reading of "we cannot tell" is "treat it as the risky case"."""
    try:
        return bool(expr.evaluate(dict(payload)))
    except Exception:  # a missing field or a type error in the condition: see the docstring
        return True


@cache
def _llm_error_classes() -> dict[str, str]:
    """error.type of a failed llm call (processors/llm/client.py, named from retry.ErrorKind) -> class."""
    from dana_workflows.processors.llm.retry import ErrorKind

    return {
        ErrorKind.QUOTA.value: QUOTA,
        ErrorKind.RATE_LIMITED.value: RATE_LIMIT,
        ErrorKind.REQUEST.value: REFUSAL,
        ErrorKind.TRANSIENT.value: SERVER,
        "timeout": TIMEOUT,
        "server_error": SERVER,
        "circuit_open": SERVER,
        "connection_error": TRANSPORT,
        "output_invalid": SCHEMA,
        ENFORCE_VIOLATION: ENFORCE,
    }


def classify(outcome: Outcome) -> str:
    """The error class of a failed attempt."""
    details = outcome.details
    given = details.get(ERROR_CLASS_KEY)
    if given in ERROR_CLASSES:
        return str(given)
    kind = details.get("error.type")
    if kind:
        return _llm_error_classes().get(str(kind), STEP_ERROR)
    return STEP_ERROR


def classify_exception(exc: BaseException) -> str:
    """A step that raised: a timeout or a failed connection is named, anything else is a step error."""
    if isinstance(exc, TimeoutError):
        return TIMEOUT
    if isinstance(exc, ConnectionError):
        return TRANSPORT
    return STEP_ERROR
