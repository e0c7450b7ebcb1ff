"""The Python worker entry point (issue 20) on the real broker: `serve()` of a DSL workflow, started in its
own process as a user's script would, decides every produced event as `run()` does in process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.embedded import pipeline_of, run_async
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import stop_worker, wait_consumed, wait_for_outcomes, worker_env
from tests.otlp_receiver import Receiver, receiver

__all__ = ["receiver"]  # the fixture

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent(
    """
    import sys
    from dana_workflows.streams.embedded import serve
    from dana_workflows.workflow.dsl import Workflow, route, rule, validate

    orders = (
        Workflow("orders", input={"order_id": "string", "qty": "long", "price": "double"})
        | validate("check", rule("positive_qty", "qty > 0", "qty must be positive"))
        | route("triage", big="double(qty) * price >= 1000.0", small="true")
    )
    if __name__ == "__main__":
        audit = sys.argv[3] if len(sys.argv) > 3 else ""
        sys.exit(serve(orders, broker=sys.argv[1], prefix=sys.argv[2], partitions=2, audit=audit))
    """
)


def _spawn(script: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """The user's worker script in a process of its own, logging next to it (worker.log)."""
    log = (script.parent / "worker.log").open("wb")
    return subprocess.Popen(
        [sys.executable, str(script), *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=script.parent
    )


def _events(n: int) -> list[str]:
    """Every fourth order has qty 0 (rejected); qty * price crosses 1000 for some of the rest (big)."""
    return [json.dumps({"order_id": f"o{i}", "qty": i % 4 * 7, "price": 10.0 + i}) for i in range(n)]


async def test_serve_decides_every_event_as_run_does(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    script = tmp_path / "orders_worker.py"
    script.write_text(SCRIPT)
    namespace: dict[str, object] = {}
    exec(compile(SCRIPT, str(script), "exec"), namespace)  # the same workflow, for the in-process run
    orders = namespace["orders"]
    lines = _events(60)
    pipeline = pipeline_of(orders)  # type: ignore[arg-type]
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    worker = _spawn(script, worker_env(tmp_path), kafka_bootstrap, topic_prefix)
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(lines), 120, lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    on_kafka = {
        json.loads(d)["run_id"]: (boundary, json.loads(d)["payload"].get("route"))
        for boundary, decided in got.items()
        for d in decided
    }
    in_process = await run_async(orders, lines)  # type: ignore[arg-type]
    expected = {d.run_id: (d.outcome, d.payload.get("route")) for d in in_process.decisions}
    assert on_kafka == expected
    assert in_process.outcomes["rejected"] == 15  # i % 4 == 0: qty 0
    assert {route for _, route in expected.values()} == {None, "small", "big"}


async def test_a_worker_storing_the_audit_exports_every_events_trace(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, receiver: Receiver
) -> None:
    script = tmp_path / "orders_worker.py"
    script.write_text(SCRIPT)
    namespace: dict[str, object] = {}
    exec(compile(SCRIPT, str(script), "exec"), namespace)
    pipeline = pipeline_of(namespace["orders"])  # type: ignore[arg-type]
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = _events(20)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    env = {**worker_env(tmp_path), "DWF_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}"}
    worker = _spawn(script, env, kafka_bootstrap, topic_prefix, f"chdb://{tmp_path / 'audit'}")
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(lines), 120, lambda: worker.poll() is None
        )
        group = f"{topic_prefix}-{pipeline.workflow.name}"
        assert await wait_consumed(
            kafka_bootstrap, group, topology.audit_topic, 60, lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)  # the worker flushes its spans as it closes the store
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    decided = {json.loads(d)["run_id"] for ds in got.values() for d in ds}
    roots = [s for s in receiver.spans if not s["parent"]]
    assert {r["attrs"]["dwf.run_id"] for r in roots} == decided
    assert all(r["attrs"]["dwf.outcome"] in ("completed", "rejected") for r in roots)
    steps = {s["name"] for s in receiver.spans if s["parent"]}
    assert {"ingest", "check", "triage"} <= steps
