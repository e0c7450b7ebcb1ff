from __future__ import annotations

import pytest

from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.executor import execute
from dana_workflows.processors.pipeline import DLQ, REJECTED, compile_pipeline
from dana_workflows.processors.route import RouteProcessor
from dana_workflows.processors.transform import TransformProcessor, resolve_function
from dana_workflows.processors.validate import ValidateProcessor
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import (
    BranchIR,
    DeriveIR,
    RetryPolicyIR,
    RouteStepIR,
    RuleIR,
    TransformStepIR,
    ValidateStepIR,
)
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit


def env(**payload: object) -> Envelope:
    return Envelope("e/in", "r", "w", 1, "in", dict(payload), provenance={"rule_results": []})


def ctx() -> StepContext:
    ticks = iter(range(1_000_000, 10_000_000))
    return StepContext(clock=lambda: next(ticks))


async def test_validate_records_every_rule_and_rejects_on_reject_severity() -> None:
    step = ValidateStepIR(
        name="check",
        rules=(
            RuleIR(id="positive", expr="amount > 0.0", message="amount must be positive"),
            RuleIR(id="small", expr="amount < 100.0", message="too big", severity="warn"),
            RuleIR(id="known", expr="currency in ['USD']", message="unknown currency"),
        ),
    )
    out = await ValidateProcessor(step).process(env(amount=-5.0, currency="USD"), ctx())
    assert out.kind is OutcomeKind.REJECT
    assert out.reasons == ["positive: amount must be positive"]
    assert [(r.rule_id, r.passed) for r in out.rule_results] == [
        ("positive", False),
        ("small", True),
        ("known", True),
    ]
    assert out.rule_results[0].values == {"amount": -5.0}

    warn = await ValidateProcessor(step).process(env(amount=500.0, currency="USD"), ctx())
    assert warn.kind is OutcomeKind.EMIT
    assert [r.passed for r in warn.rule_results] == [True, False, True]


async def test_rule_that_cannot_evaluate_fails_with_the_reason() -> None:
    step = ValidateStepIR(name="check", rules=(RuleIR(id="ratio", expr="amount / count > 1", message="m"),))
    out = await ValidateProcessor(step).process(env(amount=5, count=0), ctx())
    assert out.kind is OutcomeKind.REJECT
    assert "division by zero" in out.rule_results[0].message


async def test_transform_derives_renames_and_drops_from_the_incoming_payload() -> None:
    step = TransformStepIR(
        name="t",
        derive=(
            DeriveIR(field="fee", expr="amount * 0.1", type="double"),
            DeriveIR(field="currency", expr="upper(currency)", type="string"),
            DeriveIR(field="cents", expr="int(amount * 100.0)", type="long"),
        ),
        rename={"note": "remark"},
        drop=("secret",),
    )
    out = await TransformProcessor(step).process(
        env(amount=12.5, currency="eur", note="n", secret="s"), ctx()
    )
    assert out.envelope.payload == {
        "amount": 12.5,
        "currency": "EUR",
        "fee": 1.25,
        "remark": "n",
        "cents": 1250,
    }


def add_region(payload: dict[str, object]) -> dict[str, object]:
    return {"region": "EU" if payload["currency"] == "EUR" else "US"}


async def test_transform_calls_a_registered_function() -> None:
    step = TransformStepIR(name="t", function=f"{__name__}:add_region")
    out = await TransformProcessor(step).process(env(currency="EUR"), ctx())
    assert out.envelope.payload["region"] == "EU"
    with pytest.raises(ValueError, match="cannot be imported"):
        resolve_function("no_such_module:fn")


async def test_route_takes_the_first_true_branch_and_writes_it() -> None:
    step = RouteStepIR(
        name="triage",
        branches=(BranchIR(name="fast", when="amount < 10.0"), BranchIR(name="slow", when="true")),
    )
    p = RouteProcessor(step)
    fast = await p.process(env(amount=5.0), ctx())
    assert (
        fast.kind is OutcomeKind.ROUTE and fast.branch == "fast" and fast.envelope.payload["route"] == "fast"
    )
    slow = await p.process(env(amount=50.0), ctx())
    assert slow.branch == "slow" and slow.envelope.provenance["route"] == "slow"


async def test_route_without_a_matching_branch_rejects() -> None:
    step = RouteStepIR(name="triage", branches=(BranchIR(name="fast", when="amount < 10.0"),))
    out = await RouteProcessor(step).process(env(amount=50.0), ctx())
    assert out.kind is OutcomeKind.REJECT and out.rule_results[0].rule_id == "triage.no_branch"


SPEC = """
workflow: w
input: {amount: double}
objective:
  constraints: [{id: cap, rule: "route != 'fast' || amount < 5.0", message: "fast only below 5"}]
steps:
  - boom:
      transform: {function: "tests.unit.processors.test_processors:explode"}
      retry: {max_attempts: 3}
  - triage: {route: {fast: "amount < 10.0", slow: "true"}}
"""

CALLS: list[float] = []


def explode(payload: dict[str, float]) -> dict[str, float]:
    CALLS.append(payload["amount"])
    if payload["amount"] == 13.0 or (payload["amount"] == 7.0 and CALLS.count(7.0) < 2):
        raise RuntimeError("flaky")
    return {}


async def test_executor_retries_then_dead_letters_and_audits_each_attempt() -> None:
    CALLS.clear()  # explode() fails 7.0 once per test, whatever ran before (any test order)
    pipeline = compile_pipeline(parse_spec(SPEC))
    node = pipeline.entry_node
    c = ctx()
    dead = await execute(node, env(amount=13.0), c)
    assert not dead.forwarded and dead.boundary == DLQ
    kinds = ["error", "error", "recovery", "error", "recovery", "recovery", "dlq"]  # docs/recovery.md
    assert [r.kind for r in dead.rows] == kinds
    assert [r.decision for r in dead.rows if r.kind == "recovery"] == ["retry", "retry", "dlq"]
    assert "RuntimeError: flaky" in dead.error
    assert [r.seq for r in dead.rows] == list(range(len(kinds)))

    flaky = await execute(node, env(amount=7.0), c)
    assert flaky.forwarded
    assert [r.kind for r in flaky.rows] == ["error", "recovery", "emitted"]
    assert flaky.envelope.event_id == "r/boom"


async def test_an_owned_envelope_is_retried_from_what_it_was() -> None:
    # owned=True (the local runtime) runs the first attempt on the caller's envelope, no copy
    pipeline = compile_pipeline(parse_spec(SPEC))
    node, c = pipeline.entry_node, ctx()
    original = env(amount=7.0)
    CALLS.clear()
    flaky = await execute(node, original, c, owned=True)
    assert flaky.forwarded
    assert [r.kind for r in flaky.rows] == ["error", "recovery", "emitted"]
    assert [r.attempt for r in flaky.rows] == [0, 1, 1]
    assert CALLS == [7.0, 7.0]  # the retry saw the same payload as the failed attempt
    assert flaky.envelope is not original  # the retry ran on a copy, as before
    ok = env(amount=1.0)
    passed = await execute(node, ok, c, owned=True)
    assert passed.envelope is ok and passed.rows[0].kind == "emitted"  # no copy for a first success


async def test_objective_constraint_is_enforced_as_the_last_stage() -> None:
    pipeline = compile_pipeline(parse_spec(SPEC))
    assert list(pipeline.nodes) == ["boom", "triage", "enforce_objective"]
    node = pipeline.nodes["enforce_objective"]
    e = env(amount=8.0, route="fast")
    res = await execute(node, e, ctx())
    assert not res.forwarded and res.boundary == REJECTED
    assert res.envelope.provenance["reasons"] == ["cap: fast only below 5"]
    ok = await execute(node, env(amount=3.0, route="fast"), ctx())
    assert ok.edge is not None and ok.edge.boundary == "out"
    assert [r.kind for r in ok.rows] == ["emitted", "completed"]


async def test_exhausted_retries_can_fall_back_to_a_symbolic_default() -> None:
    step = TransformStepIR(
        name="t",
        function=f"{__name__}:explode",
        retry=RetryPolicyIR(max_attempts=2, on_exhausted="default", default={"amount": 0.0}),
    )
    ir = parse_spec(
        "workflow: w\ninput: {amount: double}\nsteps:\n  - v: {validate: [{id: r, rule: 'true'}]}\n"
    )
    pipeline = compile_pipeline(ir.model_copy(update={"steps": (step,)}))
    res = await execute(pipeline.entry_node, env(amount=13.0), ctx())
    assert res.forwarded
    assert res.envelope.payload["amount"] == 0.0
    assert [r.kind for r in res.rows] == [
        "error",
        "error",
        "recovery",
        "recovery",
        "defaulted",
        "completed",
    ]
