"""``StepContext(timed=False)``: the executor writes every duration as 0, so one event run twice on the same
clock audits identical rows, hash for hash (the Kafka worker under at-least-once redelivers records after a
crash, and ``audit verify`` must see the second copy as a duplicate: docs/kafka-runtime.md). With
``timed=True`` (the default) the durations a step reports are kept.

The step answers with phases whose durations differ on every call, as a real llm step's do; the clock is
injected and gives the same readings to both runs.
"""

from __future__ import annotations

import time
from itertools import count
from typing import Any

import pytest

from dana_workflows.processors.base import EMIT, Outcome, Phase, StepContext
from dana_workflows.processors.executor import execute
from dana_workflows.processors.pipeline import Node, compile_pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow, row_digest
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

RETRIED = """
workflow: w
input: {amount: double}
steps:
  - assess:
      validate: [{id: r, rule: 'true'}]
      retry: {max_attempts: 2}
"""


class SlowerEachTime:
    """Fails its first call (so a retry and an error row are written), then passes with phases that took
    longer on every call."""

    name = "assess"
    kind = "llm"

    def __init__(self) -> None:
        self.calls = count(1)

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        n = next(self.calls)
        if n % 2 == 1:
            return Outcome.fail(env, "timeout")
        phases = (Phase("perceive", "pass", 10 * n, {}), Phase("operate", "call", 1000 * n, {}))
        return Outcome(EMIT, env, phases=phases)


def run_node() -> Node:
    node = compile_pipeline(parse_spec(RETRIED)).entry_node
    node.processor = SlowerEachTime()
    return node


def arriving() -> Envelope:
    return Envelope("run1/in", "run1", "w", 2, "in", {"amount": 5.0}, 1234, 0, {}, 3, "ab" * 32)


async def rows_of(node: Node, timed: bool) -> list[AuditRow]:
    ticks = count(1_000_000)
    result = await execute(node, arriving(), StepContext(clock=lambda: next(ticks), timed=timed))
    return result.rows


async def test_untimed_rows_carry_no_duration_and_repeat_hash_for_hash() -> None:
    node = run_node()
    first = await rows_of(node, timed=False)
    again = await rows_of(node, timed=False)  # the step's phases took longer this time
    kinds = [r.kind for r in first]
    assert "error" in kinds and "perceive" in kinds and "operate" in kinds and "emitted" in kinds
    assert [r.duration_us for r in first] == [0] * len(first)
    assert first == again
    prev = "ab" * 32
    for row in first:
        assert row.prev_hash == prev and row.hash == row_digest(row)
        prev = row.hash


async def test_timed_rows_keep_the_durations_a_step_reports() -> None:
    rows = await rows_of(run_node(), timed=True)
    durations: dict[str, Any] = {r.kind: r.duration_us for r in rows if r.kind in ("perceive", "operate")}
    assert durations == {"perceive": 20, "operate": 2000}


async def test_a_timed_step_row_holds_the_time_the_attempt_took() -> None:
    # the step row's duration is the first attempt's own time: at most what passed around the call
    # (a clock read only on one side would write the time since the machine started)
    node = compile_pipeline(parse_spec(RETRIED)).entry_node
    ticks = count(1_000_000)
    before = time.perf_counter_ns()
    result = await execute(node, arriving(), StepContext(clock=lambda: next(ticks), timed=True))
    elapsed_us = (time.perf_counter_ns() - before) // 1000
    assert [r.kind for r in result.rows] == ["emitted", "completed"]
    assert 0 <= result.rows[0].duration_us <= elapsed_us
