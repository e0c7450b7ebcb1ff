"""The objects built on every step of every event without their dataclass __init__ (the slots set
directly: CompiledRule.check's RuleResult, the executor's forwarded StepResult; docs/performance.md,
"Session 12: shared processing") hold what the plain constructor would: every field set, values as the
processor contract and the executor's docstrings define them. A field added to either class must be set
there too, which the first two tests say.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from dana_workflows.processors.base import EMIT, RuleResult, StepContext
from dana_workflows.processors.executor import StepResult, execute
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.processors.rules import CompiledRule
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.workflow.ir import RuleIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def test_rule_result_fields_are_the_ones_check_sets() -> None:
    fields = tuple(f.name for f in dataclasses.fields(RuleResult))
    assert fields == ("rule_id", "step", "passed", "severity", "message", "values")


def test_step_result_fields_are_the_ones_forward_sets() -> None:
    fields = tuple(f.name for f in dataclasses.fields(StepResult))
    assert fields == ("boundary", "envelope", "edge", "rows", "reasons", "error", "outcome")


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
