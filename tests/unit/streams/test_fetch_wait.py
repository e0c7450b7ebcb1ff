"""The worker's group consumer: the fetch wait the runtime gives it (app.py, FETCH_MAX_WAIT_MS), where
faust's own would be 1,500 ms. Built, never started (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.kafka.app import FETCH_MAX_WAIT_MS, KafkaOptions, KafkaRuntime
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: fw
input: {amount: double}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0", message: "amount must be positive"}
"""


def group_consumer(tmp_path: Path, bound: int | None) -> Any:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None)
    runtime = KafkaRuntime(pipeline, topology, options, audit_store=None)
    if bound is not None:
        runtime.bound_fetch_wait(bound)
    thread: Any = runtime.app.consumer._thread  # type: ignore[attr-defined]
    return thread._create_worker_consumer(thread.transport)  # what faust's consumer thread starts


async def test_the_worker_waits_at_most_the_bound_for_a_fetch(tmp_path: Path) -> None:
    assert FETCH_MAX_WAIT_MS == 100  # docs/kafka-runtime.md, "Workers, shutdown, health"
    assert group_consumer(tmp_path, FETCH_MAX_WAIT_MS)._fetch_max_wait_ms == 100
    assert group_consumer(tmp_path / "b", 250)._fetch_max_wait_ms == 250


async def test_without_the_bound_faust_waits_one_and_a_half_seconds(tmp_path: Path) -> None:
    # the reason for the bound: faust hard-codes 1,500 ms (if faust changes this, app.py's comment goes)
    assert group_consumer(tmp_path, None)._fetch_max_wait_ms == 1500
