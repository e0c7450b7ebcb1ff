"""Every audit row of a step that fails, retries and then falls back to its default or dies: what an
auditor reads for each attempt (docs/audit.md, transition kinds). Written after mutation testing showed
that the `defaulted` row's decision, step and details, and the route taken after a default, could change
with every test passing: those only read the last outcome.
"""

from __future__ import annotations

import pytest

from dana_workflows.processors.executor import execute
from dana_workflows.processors.pipeline import DLQ, Pipeline, compile_pipeline
from dana_workflows.workflow.ir import RetryPolicyIR, TransformStepIR
from dana_workflows.workflow.spec import parse_spec
from tests.unit.processors.test_processors import ctx, env

pytestmark = pytest.mark.unit

FAILING = "tests.unit.processors.test_processors:explode"  # raises for amount 13.0, every time
SPEC = "workflow: w\ninput: {amount: double}\nsteps:\n  - v: {validate: [{id: r, rule: 'true'}]}\n"


def pipeline_with(step: TransformStepIR) -> Pipeline:
    """A one-step workflow around `step`."""
    return compile_pipeline(parse_spec(SPEC).model_copy(update={"steps": (step,)}))


async def test_each_failed_attempt_then_the_default_is_audited() -> None:
    step = TransformStepIR(
        name="t",
        function=FAILING,
        retry=RetryPolicyIR(max_attempts=3, on_exhausted="default", default={"amount": 0.0}),
    )
    res = await execute(pipeline_with(step).entry_node, env(amount=13.0), ctx())
    errors = [r for r in res.rows if r.kind == "error"]
    defaulted = next(r for r in res.rows if r.kind == "defaulted")
    assert [(r.kind, r.step, r.attempt) for r in errors] == [
        ("error", "t", 0),
        ("error", "t", 1),
        ("error", "t", 2),
    ]
    # the ladder's rows (docs/recovery.md): two failed retries, then the default that placed the event
    rungs = [(r.decision, r.attempt, r.details) for r in res.rows if r.kind == "recovery"]
    assert rungs == [
        ("retry", 1, '{"error_class":"step_error","succeeded":false}'),
        ("retry", 2, '{"error_class":"step_error","succeeded":false}'),
        ("default", 2, '{"error_class":"step_error","succeeded":true}'),
    ]
    assert all("RuntimeError: flaky" in r.reason for r in errors)
    assert (defaulted.kind, defaulted.step, defaulted.decision) == ("defaulted", "t", "default")
    assert defaulted.attempt == 2 and "RuntimeError: flaky" in defaulted.reason
    assert defaulted.details == '{"default":{"amount":0.0}}'
    assert [r.seq for r in res.rows] == list(range(len(res.rows)))


async def test_retries_exhausted_without_a_default_dead_letter_with_the_error() -> None:
    step = TransformStepIR(name="t", function=FAILING, retry=RetryPolicyIR(max_attempts=2))
    res = await execute(pipeline_with(step).entry_node, env(amount=13.0), ctx())
    assert not res.forwarded and res.boundary == DLQ
    dlq = res.rows[-1]
    assert (dlq.kind, dlq.step, dlq.decision, dlq.attempt) == ("dlq", "t", "dlq", 1)
    assert "RuntimeError: flaky" in dlq.reason
    assert res.error is not None and "RuntimeError: flaky" in res.error
    assert res.envelope.provenance["error"] == res.error


async def test_the_retry_rung_waits_its_backoff_doubling(monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[float] = []

    async def no_wait(seconds: float) -> None:  # the waits are recorded, not slept
        waited.append(seconds)

    monkeypatch.setattr("dana_workflows.processors.executor.asyncio.sleep", no_wait)
    step = TransformStepIR(name="t", function=FAILING, retry=RetryPolicyIR(max_attempts=4, backoff_ms=100))
    res = await execute(pipeline_with(step).entry_node, env(amount=13.0), ctx())
    assert res.boundary == DLQ
    assert waited == [0.1, 0.2, 0.4]  # before the 2nd, 3rd and 4th attempts
