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
from tests.integration.kafka_support import stop_worker, wait_for_outcomes, worker_env

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
        sys.exit(serve(orders, broker=sys.argv[1], prefix=sys.argv[2], partitions=2, audit=""))
    """
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
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, str(script), kafka_bootstrap, topic_prefix],
        env=worker_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
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
