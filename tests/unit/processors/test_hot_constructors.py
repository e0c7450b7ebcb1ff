"""The objects built on every step of every event without their dataclass __init__ (the slots set
directly: CompiledRule.check's RuleResult, the executor's forwarded StepResult; docs/performance.md,
"Session 12: shared processing"; the built-in processors' Outcome by base.decided, "Session 16: the
processors' own work") hold what the plain constructor would: every field set, values as the processor
contract and the executor's docstrings define them. A field added to any of these classes must be set
there too, which the first three tests say.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from dana_workflows.processors.base import (
    EMIT,
    REJECT,
    ROUTE,
    Outcome,
    OutcomeKind,
    RuleResult,
    StepContext,
    decided,
)
from dana_workflows.processors.executor import StepResult, execute
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.workflow.ir import RuleIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def test_rule_result_fields_are_the_ones_check_sets() -> None:
    fields = tuple(f.name for f in dataclasses.fields(RuleResult))
    assert fields == ("rule_id", "step", "passed", "severity", "message", "values", "head")


def test_step_result_fields_are_the_ones_forward_sets() -> None:
    fields = tuple(f.name for f in dataclasses.fields(StepResult))
    assert fields == ("boundary", "envelope", "edge", "rows", "reasons", "error", "outcome")


def test_outcome_fields_are_the_ones_decided_sets() -> None:
    fields = tuple(f.name for f in dataclasses.fields(Outcome))
    assert fields == (
        "kind",
        "envelope",
        "reasons",
        "rule_results",
        "branch",
        "error",
        "details",
        "phases",
    )


def _env(payload: dict[str, Any]) -> Envelope:
    return Envelope("run/in", "run", "w", 1, "in", payload, 0, 0, {}, 0, GENESIS_HASH)


@pytest.mark.parametrize(
    ("kind", "reasons", "branch"), [(EMIT, [], None), (REJECT, ["r1: no"], None), (ROUTE, [], "fast")]
)
def test_a_decided_outcome_is_the_plain_outcome(
    kind: OutcomeKind, reasons: list[str], branch: str | None
) -> None:
    env = _env({"amount": 1.0})
    results = [RuleResult("r1", "chk", kind is not REJECT, "reject", "", {"amount": 1.0})]
    outcome = decided(kind, env, reasons, results, branch)
    assert type(outcome) is Outcome
    # what the constructor gives: no error, no phases, empty details (processors/base.py, Outcome)
    assert outcome == Outcome(kind, env, reasons, results, branch)
    assert outcome.error is None and outcome.phases == () and outcome.details == {}
    assert outcome.envelope is env and outcome.reasons is reasons and outcome.rule_results is results


def test_each_decided_outcome_has_its_own_details() -> None:
    first, second = decided(EMIT, _env({}), [], []), decided(EMIT, _env({}), [], [])
    first.details["dwf.eff"] = 1
    assert second.details == {}


def _no_init(self: Outcome, *args: Any, **kwargs: Any) -> None:
    raise AssertionError("built by Outcome.__init__, not by base.decided")


SPEC_STEPS = """
workflow: w
input: {amount: double, currency: string}
steps:
  - normalize: {transform: {set: {currency: "upper(currency)"}}}
  - check: {validate: [{id: pos, rule: 'amount > 0.0'}]}
  - triage: {route: {fast: 'amount < 10.0', slow: 'true'}}
objective:
  goal: g
  constraints: [{id: small, rule: "route != 'fast' || amount < 5.0"}]
"""


@pytest.mark.parametrize("amount", [1.0, 7.0, 20.0, -1.0])
def test_the_processors_decide_without_the_outcome_constructor(
    amount: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transform, validate, route and enforce return their decided outcome through base.decided (the
    slots set directly), which is what they must still do with Outcome.__init__ unusable."""
    pipeline = compile_pipeline(parse_spec(SPEC_STEPS))
    monkeypatch.setattr(Outcome, "__init__", _no_init)
    ctx = StepContext(clock=lambda: 1_000, timed=False)
    env = _env({"amount": amount, "currency": "eur"})
    kinds = []
    for node in pipeline.nodes.values():
        outcome = asyncio.run(node.processor.process(env, ctx))
        kinds.append((node.processor.kind, outcome.kind, outcome.branch))
        env = outcome.envelope
        if outcome.kind is REJECT:
            break
    # amount > 0 passes check; < 10 takes fast, else slow; the objective holds unless fast with >= 5
    normalized, checked = ("transform", EMIT, None), ("validate", EMIT, None)
    expected = {
        1.0: [normalized, checked, ("route", ROUTE, "fast"), ("enforce", EMIT, None)],
        7.0: [normalized, checked, ("route", ROUTE, "fast"), ("enforce", REJECT, None)],
        20.0: [normalized, checked, ("route", ROUTE, "slow"), ("enforce", EMIT, None)],
        -1.0: [normalized, ("validate", REJECT, None)],
    }[amount]
    assert kinds == expected
    assert env.payload["currency"] == "EUR"


def _rule(expr: str, severity: str = "reject") -> CompiledRule:
    return CompiledRule.of(
        RuleIR(id="r1", expr=expr, message="amount must be positive", severity=severity), "chk"
    )


@pytest.mark.parametrize(
    ("scope", "passed"),
    [({"amount": 5.0}, True), ({"amount": -1.0}, False), ({"amount": 0.0}, False)],
)
@pytest.mark.parametrize("severity", ["reject", "warn"])
def test_a_decided_rule_is_the_plain_rule_result(scope: dict[str, Any], passed: bool, severity: str) -> None:
    result = _rule("amount > 0.0", severity).check(scope)
    # a passing rule has no message; a failing one its own message (processors/base.py, RuleResult)
    expected = RuleResult("r1", "chk", passed, severity, "" if passed else "amount must be positive", scope)
    assert type(result) is RuleResult
    assert result == expected
    assert result.passed is passed  # the bool the expression gave, not a truthy stand-in
    assert result.to_record() == expected.to_record()
    # its record's rendered head for this verdict (processors/rule_render.py), which the plain one lacks
    assert result.head is not None and expected.head is None
    assert canonical_json([result.to_record()]).encode().startswith(b"[" + result.head)


def test_each_check_has_its_own_values() -> None:
    rule = _rule("amount > 0.0")
    first, second = rule.check({"amount": 1.0}), rule.check({"amount": 2.0})
    assert first.values == {"amount": 1.0} and second.values == {"amount": 2.0}
    assert first.values is not second.values


SPEC = """
workflow: w
input: {amount: double}
steps:
  - first: {validate: [{id: pos, rule: 'amount > 0.0'}]}
  - second: {validate: [{id: small, rule: 'amount < 10.0', severity: warn}]}
"""


def _forwarded(node_name: str, amount: float) -> tuple[StepResult, Any]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    node = pipeline.nodes[node_name]
    env = Envelope("run/in", "run", "w", 1, "in", {"amount": amount}, 0, 0, {}, 0, GENESIS_HASH)
    ctx = StepContext(clock=lambda: 1_000, timed=False)
    return asyncio.run(execute(node, env, ctx)), node


@pytest.mark.parametrize(("node_name", "amount"), [("first", 3.0), ("second", 3.0), ("second", 30.0)])
def test_a_forwarded_step_is_the_plain_step_result(node_name: str, amount: float) -> None:
    result, node = _forwarded(node_name, amount)
    assert type(result) is StepResult
    edge = node.emit
    assert edge is not None
    # forwarded: along the node's edge, to its boundary, no reasons and no error, the processor's outcome kept
    assert result.edge is edge
    assert result.boundary == edge.boundary
    assert result.forwarded
    assert result.reasons == [] and result.error is None
    assert result.outcome is not None and result.outcome.kind is EMIT
    assert result.envelope is result.outcome.envelope
    assert result.envelope.event_id == f"run/{edge.boundary}"
    assert [row.kind for row in result.rows] == (
        ["emitted", "completed"] if edge.node is None else ["emitted"]
    )
    assert result == StepResult(edge.boundary, result.envelope, edge, result.rows, [], None, result.outcome)


def test_each_forwarded_step_has_its_own_reasons_list() -> None:
    a, _ = _forwarded("first", 3.0)
    b, _ = _forwarded("first", 4.0)
    a.reasons.append("x")
    assert b.reasons == []
