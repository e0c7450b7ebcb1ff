"""The processor contract: a pure async unit, ``await step.process(envelope, ctx) -> Outcome``.

A processor knows nothing about Kafka, files or ClickHouse. What it may use comes through ``ctx``.
The runtimes (streams/local, streams/kafka) only move envelopes between processors.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from dana_workflows.core.clock import Clock
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import Envelope


class OutcomeKind(StrEnum):
    EMIT = "emit"  # go on to the next step
    REJECT = "reject"  # a rule said no: to the `rejected` topic
    ROUTE = "route"  # go on along a named branch
    FAIL = "fail"  # the step raised or could not decide: recovery, then `dlq`


# The kinds as module constants, for the hot paths (here, the processors, the executor): on CPython
# 3.11 reading an enum member (`OutcomeKind.FAIL`) costs ~170 ns, a module global ~10 ns.
EMIT, REJECT, ROUTE, FAIL = OutcomeKind.EMIT, OutcomeKind.REJECT, OutcomeKind.ROUTE, OutcomeKind.FAIL


@dataclass(slots=True)
class RuleResult:
    """One evaluation of one rule: what an auditor needs to see why a decision was made.

    Treated as immutable, but not `frozen`: a frozen dataclass's __init__ costs ~4x more, and
    several of these are made per event.
    """

    rule_id: str
    step: str
    passed: bool
    severity: str  # "reject" | "warn"
    message: str
    values: dict[str, Any] = field(default_factory=dict)
    # the canonical JSON of to_record() up to its values, where the rule that made this result rendered
    # it once for its verdict (CompiledRule.check; processors/rule_render.py); None: render it all
    head: bytes | None = field(default=None, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        """The Avro form (provenance.rule_results): values as a canonical JSON string."""
        return {
            "rule_id": self.rule_id,
            "step": self.step,
            "passed": self.passed,
            "severity": self.severity,
            "message": self.message,
            "values": canonical_json(self.values),
        }


@dataclass(slots=True)
class Phase:
    """A timed part of one step's work on one event (an llm step's perceive, operate and enforce),
    audited as a row of its own (kind = name) before the step's transition row."""

    name: str
    decision: str
    duration_us: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    kind: OutcomeKind
    envelope: Envelope
    reasons: list[str] = field(default_factory=list)
    rule_results: list[RuleResult] = field(default_factory=list)
    branch: str | None = None
    error: str | None = None
    # extra audit fields a processor wants recorded with its transition (e.g. an LLM call's usage)
    details: dict[str, Any] = field(default_factory=dict)
    phases: Sequence[Phase] = ()  # a tuple by default: no list made for the steps that have none

    @classmethod
    def emit(cls, env: Envelope, **kw: Any) -> Outcome:
        return cls(EMIT, env, **kw)

    @classmethod
    def reject(cls, env: Envelope, reasons: list[str], **kw: Any) -> Outcome:
        return cls(REJECT, env, reasons=reasons, **kw)

    @classmethod
    def route(cls, env: Envelope, branch: str, **kw: Any) -> Outcome:
        return cls(ROUTE, env, branch=branch, **kw)

    @classmethod
    def fail(cls, env: Envelope, error: str, **kw: Any) -> Outcome:
        return cls(FAIL, env, error=error, **kw)


_new_outcome = Outcome.__new__


def decided(
    kind: OutcomeKind,
    env: Envelope,
    reasons: list[str],
    rule_results: list[RuleResult],
    branch: str | None = None,
) -> Outcome:
    """`Outcome(kind, env, reasons, rule_results, branch)` with its slots set directly, without the
    dataclass __init__ (its keyword binding and default factories): the built-in processors' decided
    outcome, one a step of every event (~0.1-0.15 µs each; docs/performance.md, "Session 16: the
    processors' own work"). No error, no phases, a fresh details dict, as the constructor gives;
    tests/unit/processors/test_hot_constructors.py holds it to the constructor."""
    outcome = _new_outcome(Outcome)
    outcome.kind = kind
    outcome.envelope = env
    outcome.reasons = reasons
    outcome.rule_results = rule_results
    outcome.branch = branch
    outcome.error = None
    outcome.details = {}
    outcome.phases = ()
    return outcome


@runtime_checkable
class AuditWriter(Protocol):
    """Where a processor may record extra audit events (beyond the runtime's own transitions)."""

    def record(self, env: Envelope, kind: str, step: str, details: dict[str, Any]) -> Envelope: ...


@dataclass
class StepContext:
    """What a processor may use. The runtimes build one per worker and pass it to every step."""

    clock: Clock  # microseconds since the epoch (core.clock.wall_clock_us in production)
    state: MutableMapping[str, Any] = field(default_factory=dict)  # a table (faust table in Kafka mode)
    llm: Any = None  # an LLM client (processors/llm), None when the workflow has no llm step
    audit: AuditWriter | None = None
    knowledge: Any = None
    settings: Any = None
    # False: every duration is written as 0 (the Kafka worker under at-least-once: a redelivered record
    # must audit byte-identical rows, docs/kafka-runtime.md), instead of sealing each row a second time
    timed: bool = True


class Processor(Protocol):
    """A compiled step.

    `process` may change the envelope it is given when it succeeds (a runtime may hand it the only
    copy), but an attempt that fails (raises, or returns Outcome.fail) must leave it as it was: the
    retry starts from it. Derive new payloads (``{**env.payload, ...}``, ``env.evolve``), as every
    built-in processor does, instead of writing into the one you were given before you know you succeed.
    """

    name: str
    kind: str

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome: ...
