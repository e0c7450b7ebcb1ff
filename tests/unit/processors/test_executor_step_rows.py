"""Every audit row the executor writes for a step that decides on its first attempt, column by column, as
docs/audit.md describes them: an llm step's timed phases (``perceive``, ``operate``, ``enforce``), each its
own row before the step's transition row; ``emitted`` (``pass``, or ``warn`` when a warn rule failed),
``routed`` (the branch), ``rejected`` (reason: the reasons joined by ``; ``; every rule result), and
``completed`` at a terminal boundary (the boundary as step and decision, no duration). Rows chain: ``seq``
counts up from the envelope's, each row links to the previous one's hash.

The step is a processor that answers a fixed outcome with phases, as an llm step does (the processor
contract, processors/base.py): what is under test is the executor, which turns any step's outcome into
rows. Time comes from an injected clock that ticks once per reading.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.processors.base import (
    EMIT,
    REJECT,
    ROUTE,
    Outcome,
    OutcomeKind,
    Phase,
    RuleResult,
    StepContext,
)
from dana_workflows.processors.executor import execute
from dana_workflows.processors.pipeline import REJECTED, Node, compile_pipeline
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import AuditRow, row_digest
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

ONE_STEP = """
workflow: w
input: {amount: double}
steps:
  - assess: {validate: [{id: r, rule: 'true'}]}
"""
ROUTED = """
workflow: w
input: {amount: double}
steps:
  - triage:
      route:
        fast: "amount < 10.0"
        slow: "true"
  - after: {validate: [{id: r, rule: 'true'}]}
"""
PHASES = (
    Phase("perceive", "pass", 11, {"anomalies": [], "checks": []}),
    Phase("operate", "call", 2200, {"dwf.llm.model_used": "m", "gen_ai.usage.input_tokens": 40}),
    Phase("enforce", "verified", 35, {"confidence": 0.9}),
)
START = 1_000_000  # the injected clock's first reading


class Answers:
    """A step that answers ``outcome(env)`` (what an llm step's processor returns)."""

    name = "assess"
    kind = "llm"

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        result: Outcome = self.outcome(env)
        return result


def clock() -> StepContext:
    ticks = iter(range(START, START + 1000))
    return StepContext(clock=lambda: next(ticks))


def arriving(seq: int = 3) -> Envelope:
    """An event arriving at the step with ``seq`` rows in its run's chain already (a fixed prior hash)."""
    return Envelope("run1/in", "run1", "w", 2, "in", {"amount": 5.0}, 1234, 0, {}, seq, "ab" * 32)


def node_of(spec: str, outcome: Any) -> Node:
    node = compile_pipeline(parse_spec(spec)).entry_node
    node.processor = Answers(outcome)
    return node


def columns(row: AuditRow) -> tuple[Any, ...]:
    return (
        row.seq,
        row.event_id,
        row.step,
        row.kind,
        row.decision,
        row.reason,
        row.attempt,
        row.duration_us,
        json.loads(row.details),
        json.loads(row.rule_results),
        row.ts_us,
    )


def assert_chained(rows: list[AuditRow], first_prev: str) -> None:
    prev = first_prev
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == row_digest(row)
        prev = row.hash
    assert (row.workflow, row.workflow_version, row.run_id) == ("w", 2, "run1")


async def test_an_llm_steps_phases_are_rows_before_its_emitted_row_and_the_completed_row() -> None:
    details = {"dwf.llm.outcome": "ok"}
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env, details=details, phases=PHASES))
    res = await execute(node, arriving(), clock())
    assert [columns(r) for r in res.rows] == [
        (3, "run1/in", "assess", "perceive", "pass", "", 0, 11, {"anomalies": [], "checks": []}, [], START),
        (4, "run1/in", "assess", "operate", "call", "", 0, 2200, PHASES[1].details, [], START + 1),
        (5, "run1/in", "assess", "enforce", "verified", "", 0, 35, {"confidence": 0.9}, [], START + 2),
        (6, "run1/in", "assess", "emitted", "pass", "", 0, res.rows[3].duration_us, details, [], START + 3),
        # a terminal boundary: its row carries the boundary and the time of the row before
        (7, "run1/out", "out", "completed", "out", "", 0, 0, {}, [], START + 3),
    ]
    assert_chained(res.rows, "ab" * 32)
    assert res.boundary == "out" and res.forwarded
    assert res.outcome is not None and res.outcome.phases == PHASES  # the step's outcome travels with it
    assert res.envelope.produced_at == 1234  # when the event was produced: kept through the step


async def test_the_callers_envelope_is_left_as_it_was() -> None:
    """By default the executor works on a copy: the caller may still hold (and resend) its envelope."""
    given = arriving()
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env, phases=PHASES))
    res = await execute(node, given, clock())
    assert res.envelope is not given
    assert (given.event_id, given.step, given.chain_seq, given.chain_hash) == ("run1/in", "in", 3, "ab" * 32)
    assert res.envelope.event_id == "run1/out" and res.envelope.step == "assess"
    assert (res.envelope.chain_seq, res.envelope.chain_hash) == (8, res.rows[-1].hash)


async def test_a_step_without_phases_writes_only_its_transition() -> None:
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env))
    res = await execute(node, arriving(0), clock())
    assert [(r.seq, r.kind, r.decision) for r in res.rows] == [
        (0, "emitted", "pass"),
        (1, "completed", "out"),
    ]
    assert res.rows[0].details == "{}" and res.rows[0].rule_results == "[]"
    assert_chained(res.rows, "ab" * 32)


async def test_a_failed_warn_rule_emits_as_warn_and_travels_alone() -> None:
    warn = RuleResult("small", "assess", False, "warn", "too big", {"amount": 5.0})
    ok = RuleResult("positive", "assess", True, "reject", "", {"amount": 5.0})
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env, rule_results=[ok, warn]))
    res = await execute(node, arriving(), clock())
    emitted = res.rows[0]
    assert (emitted.kind, emitted.decision, emitted.reason) == ("emitted", "warn", "")
    # the row keeps every result; the envelope only the failed one (docs/audit.md, rule_results)
    assert json.loads(emitted.rule_results) == [ok.to_record(), warn.to_record()]
    assert res.envelope.provenance["rule_results"] == [warn.to_record()]


async def test_passed_rules_emit_as_pass_and_leave_no_evidence_on_the_envelope() -> None:
    ok = RuleResult("positive", "assess", True, "reject", "", {"amount": 5.0})
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env, rule_results=[ok]))
    res = await execute(node, arriving(), clock())
    assert res.rows[0].decision == "pass"
    assert json.loads(res.rows[0].rule_results) == [ok.to_record()]
    assert res.envelope.provenance["rule_results"] == []


async def test_a_rejection_after_phases_is_audited_with_its_reasons_and_every_result() -> None:
    failed = [
        RuleResult("confidence_floor", "assess", False, "reject", "too unsure", {"confidence": 0.2}),
        RuleResult("known_risk", "assess", False, "reject", "unknown risk", {"risk": "x"}),
    ]
    reasons = ["confidence_floor: too unsure", "known_risk: unknown risk"]
    details = {"dwf.llm.outcome": "violation"}

    def reject(env: Envelope) -> Outcome:
        return Outcome(REJECT, env, reasons, failed, details=details, phases=PHASES[:2])

    node = node_of(ONE_STEP, reject)
    res = await execute(node, arriving(), clock())
    records = [r.to_record() for r in failed]
    assert [columns(r) for r in res.rows] == [
        (3, "run1/in", "assess", "perceive", "pass", "", 0, 11, PHASES[0].details, [], START),
        (4, "run1/in", "assess", "operate", "call", "", 0, 2200, PHASES[1].details, [], START + 1),
        (
            5,
            "run1/in",
            "assess",
            "rejected",
            "reject",
            "confidence_floor: too unsure; known_risk: unknown risk",
            0,
            res.rows[2].duration_us,
            details,
            records,
            START + 2,
        ),
    ]
    assert_chained(res.rows, "ab" * 32)
    assert res.boundary == REJECTED and not res.forwarded and res.edge is None
    assert res.reasons == reasons
    assert res.envelope.provenance["reasons"] == reasons
    assert res.envelope.provenance["rule_results"] == records  # all of them when it rejects
    assert res.envelope.event_id == "run1/in"  # not forwarded: no new boundary


async def test_a_route_is_audited_with_its_branch_and_goes_on_along_it() -> None:
    pipeline = compile_pipeline(parse_spec(ROUTED))
    node = pipeline.entry_node
    res = await execute(node, arriving(), clock())
    (routed,) = res.rows
    assert columns(routed) == (
        3,
        "run1/in",
        "triage",
        "routed",
        "fast",
        "",
        0,
        routed.duration_us,
        {},
        [],
        START,
    )
    assert res.edge is node.branches["fast"] and res.boundary == node.branches["fast"].boundary
    assert res.envelope.event_id == f"run1/{res.boundary}" and res.envelope.attempt == 0
    assert res.envelope.payload["route"] == "fast"


async def test_a_route_outcome_names_its_branch() -> None:
    env = arriving()
    out = Outcome.route(env, "slow", details={"why": "rule"})
    assert (out.kind, out.branch, out.envelope, out.details) == (
        OutcomeKind.ROUTE,
        "slow",
        env,
        {"why": "rule"},
    )
    assert out.kind is ROUTE and out.reasons == [] and out.rule_results == [] and out.error is None


async def test_a_route_outcome_from_a_step_takes_that_branch() -> None:
    pipeline = compile_pipeline(parse_spec(ROUTED))
    node = pipeline.entry_node
    node.processor = Answers(lambda env: Outcome.route(env, "slow", phases=PHASES[:1]))
    res = await execute(node, arriving(), clock())
    assert [(r.kind, r.step, r.decision, r.seq) for r in res.rows] == [
        ("perceive", "triage", "pass", 3),
        ("routed", "triage", "slow", 4),
    ]
    assert res.edge is node.branches["slow"]


async def test_the_first_row_of_a_run_links_to_the_genesis_hash() -> None:
    start = Envelope("run1/in", "run1", "w", 2, "in", {"amount": 5.0})
    node = node_of(ONE_STEP, lambda env: Outcome(EMIT, env, phases=PHASES[:1]))
    res = await execute(node, start, clock())
    assert res.rows[0].seq == 0 and res.rows[0].prev_hash == GENESIS_HASH == "0" * 64
