"""A step's recovery ladder in the IR: the rungs tried after a failed attempt, and the rules choosing them.

docs/recovery.md explains the ladder. This module is the one home of the rung names and the error
classes (processors/recovery.py re-exports them for the runtimes, the CLI and the reports), because the
spec parser, below the processors, checks a spec's names against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The rungs, in their natural order: each costs more (or decides less by itself) than the one before.
RETRY, FALLBACK_MODEL, DEFAULT, REVIEW, DLQ = "retry", "fallback_model", "default", "review", "dlq"
RUNGS: tuple[str, ...] = (RETRY, FALLBACK_MODEL, DEFAULT, REVIEW, DLQ)
Rung = Literal["retry", "fallback_model", "default", "review", "dlq"]

# Why an attempt failed (processors/recovery.py classifies an outcome into exactly one of these).
SCHEMA = "schema"  # a model's reply broke the output schema, even after its one repair
QUOTA = "quota"  # 429 insufficient_quota: waiting does not add credit
RATE_LIMIT = "rate_limit"  # 429 after the client's own waits ran out
TIMEOUT = "timeout"  # the call (or the step) took longer than its limit
SERVER = "server"  # 5xx, or the model's circuit breaker is open
TRANSPORT = "transport"  # the connection failed (nothing answered)
REFUSAL = "refusal"  # the endpoint refused the request (other 4xx)
ENFORCE = "enforce"  # the output broke a rule, after its one send-back
HIGH_RISK = "high_risk"  # a domain rule (`when:`) said this event is one to treat with care
STEP_ERROR = "step_error"  # anything else: a function that raised, a template that failed
ERROR_CLASSES: tuple[str, ...] = (
    SCHEMA,
    QUOTA,
    RATE_LIMIT,
    TIMEOUT,
    SERVER,
    TRANSPORT,
    REFUSAL,
    ENFORCE,
    HIGH_RISK,
    STEP_ERROR,
)
ErrorClass = Literal[
    "schema",
    "quota",
    "rate_limit",
    "timeout",
    "server",
    "transport",
    "refusal",
    "enforce",
    "high_risk",
    "step_error",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LadderRetryIR(_Model):
    max_attempts: int = Field(default=3, ge=1)  # total attempts of the step, the first included
    backoff_ms: int = Field(default=0, ge=0)  # base of an exponential backoff between attempts


class RecoveryRuleIR(_Model):
    """Applies when every condition it names holds: the error class is one of `when_error`, and the CEL
    condition `when` is true on the payload the step received."""

    when_error: tuple[ErrorClass, ...] = ()
    when: str | None = None
    start_at: Rung | None = None  # skip the rungs before this one
    never: tuple[Rung, ...] = ()  # never use these rungs for such an event


class RecoveryIR(_Model):
    ladder: tuple[Rung, ...]  # dlq is always the last resort, written or not
    retry: LadderRetryIR = LadderRetryIR()
    default: dict[str, Any] | None = None  # payload fields the default rung sets
    rules: tuple[RecoveryRuleIR, ...] = ()
