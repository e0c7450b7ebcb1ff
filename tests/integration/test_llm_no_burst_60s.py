"""No burst at start-up, on the real clock: an llm step limited to N requests a minute, offered 2N events
at once, never lets any 60-second window on the server's clock hold more than N calls.

The scaled tests (tests/unit/processors/test_llm_faults.py::test_no_burst_under_twice_the_load, 1 s
windows, and tests/unit/processors/test_llm_limits.py, 0.6 s) check the same property with shortened windows;
this one runs the
real 60 s window: the step's ``LLMProcessor`` with ``limits.rpm = N`` and the default ``window_s``, the real
``openai`` client over HTTP, the project's test server (in this process) answering and itself enforcing N
per 60 s, so a burst would show as 429s as well as in the arrival times.

2N calls take about two windows (the limiter spaces admissions 60/N s apart), so the run stops ~65 s after
the start, once the first window is full and a few calls of the second have gone out (N + 4 expected),
and cancels the rest. Slow by nature (~66 s); it needs no Kafka.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import dana_workflows.processors.llm.client as client_module
from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.llm import LLMClient, LLMProcessor, RetryConfig
from dana_workflows.processors.llm.retry import CallError, classify
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR, LLMLimitsIR, LLMStepIR
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.llm_server import LLMServerHandle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

# the fixtures, whether or not the root conftest registers the plugin
llm_server_script = llm_server_plugin.llm_server_script
llm_server = llm_server_plugin.llm_server

N = 40  # requests per minute: one admission every 1.5 s
WINDOW_S = 60.0  # the real window (LLMProcessor's default)
# stop between the 5th (~64.5 s) and 6th (~66 s) admission of the second window, so no call is cut mid-flight
RUN_FOR_S = 65.25
OUTPUT = (
    FieldIR(name="risk", type="string"),
    FieldIR(name="confidence", type="double"),
    FieldIR(name="rationale", type="string"),
)


def most_in_any_window(times: list[float], window: float) -> tuple[int, int]:
    """(the most calls in [t, t + window) over every call's arrival t, the index of that t)."""
    times = sorted(times)
    counts = [sum(1 for u in times[i:] if u - t < window) for i, t in enumerate(times)]
    best = max(range(len(counts)), key=counts.__getitem__)
    return counts[best], best


async def test_no_60s_window_holds_more_than_rpm_under_twice_the_load(
    llm_server: LLMServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm_server.faults(rate_limit={"rpm": N, "window_s": WINDOW_S})  # the server refuses a burst too
    errors: list[CallError] = []  # every failed call that reached the retry/recovery policy

    def recording_classify(exc: BaseException) -> CallError:
        err = classify(exc)
        errors.append(err)
        return err

    monkeypatch.setattr(client_module, "classify", recording_classify)

    step = LLMStepIR(
        name="fraud_risk",
        prompt="Assess the fraud risk of this claim: {{ description }}",
        output=OUTPUT,
        limits=LLMLimitsIR(rpm=N, concurrency=2 * N),  # only the rpm limit holds the 2N events back
    )
    proc = LLMProcessor(step, "claims")
    assert proc.limiter is not None and proc.limiter.window_s == WINDOW_S
    client = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, timeout_s=10.0),
        retry=RetryConfig(max_attempts=3, max_rate_limit_waits=8, base_s=0.01, max_s=0.05),
    )
    ctx = StepContext(clock=lambda: 0, llm=client)

    async def one(i: int) -> Any:
        env = Envelope(f"e{i}", f"r{i}", "claims", 1, "intake", {"description": f"claim {i}", "amount": 1.0})
        return await proc.process(env, ctx)

    started = time.monotonic()
    tasks = [asyncio.create_task(one(i)) for i in range(2 * N)]
    try:
        done, pending = await asyncio.wait(tasks, timeout=RUN_FOR_S)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
    elapsed = time.monotonic() - started

    log = llm_server.log()
    statuses = [e["status"] for e in log]
    assert statuses and all(s == 200 for s in statuses), f"the server refused: {statuses}"
    assert errors == [], f"failed calls reached the recovery policy: {errors}"
    outcomes = [t.result() for t in done]
    assert all(o.kind is OutcomeKind.EMIT for o in outcomes)
    assert all(o.details["dwf.llm.rate_limited"] == 0 for o in outcomes)
    # every call on the wire finished before the stop (none was cut off while in flight)
    assert len(outcomes) == len(log), (len(outcomes), len(log))

    times = sorted(e["mono"] for e in log)
    first = times[0]
    in_first_window = sum(1 for t in times if t - first < WINDOW_S)
    assert in_first_window >= 0.95 * N, f"only {in_first_window} calls in the first {WINDOW_S:.0f} s"
    # the run reached into the second window: the window boundary itself was exercised
    assert len(times) >= N + 2, f"{len(times)} calls in {elapsed:.1f} s"
    assert times[-1] - first >= WINDOW_S
    most, at = most_in_any_window(times, WINDOW_S)
    assert most <= N, f"{most} calls within {WINDOW_S:.0f} s of call {at} (limit {N})"
    assert pending, "2N calls done within one window and a bit: the limiter let a burst through"
