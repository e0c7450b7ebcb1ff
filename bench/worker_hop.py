"""The Kafka worker's hop without a broker: CPU per record of the fused step agent's processing of the claims
example, the part of the worker that is neither the client nor faust (docs/performance.md, session 14).

    python bench/worker_hop.py [--records 3000] [--repeat 3] [--batch 500] [--no-metrics] [--warm N]

The claims events are admitted and encoded at ``in`` as ``dana-wf produce`` does; each record is decoded as
the step agent decodes it (``serde.decode_as``) and runs ``StepAgents._hop`` (the four steps fused, their
audit rows, the boundary copies, the outcome's encode) on a ``KafkaRuntime`` built but never connected. The
hop's hooks are the worker's step metrics only (``WorkerMetrics.on_outcome`` a step, ``flush`` every
``--batch`` records, as the worker flushes once a batch ran); no drift tap. ``--no-metrics`` makes the step
hook a no-op, to show what the metrics cost. Prints the CPU µs a record of each repeat, the least, a
digest of every row and send (taken after the measured runs; the same in every tree that decides the same)
and the records the metrics counted at the first step. ``--warm N`` runs N records before the measured runs
outside any asyncio task, so a callgrind run toggled on the task's steps counts the measured runs only::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no --toggle-collect='task_step*' \\
        python bench/worker_hop.py --records 800 --repeat 1 --warm 300
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.processors.ingest import admit  # noqa: E402
from dana_workflows.processors.pipeline import ENTRY, Node  # noqa: E402
from dana_workflows.schemas.registry import FileRegistry  # noqa: E402
from dana_workflows.streams.app_builder import load_pipeline  # noqa: E402
from dana_workflows.streams.kafka.worker_metrics import WorkerMetrics  # noqa: E402
from dana_workflows.streams.topology import Topology  # noqa: E402

CLAIMS = ROOT / "docs" / "examples" / "claims"


class StepMetrics:
    """The hop's hooks (KafkaExtras' shape) with the step metrics only: no LLM client, no drift."""

    llm = None

    def __init__(self, metrics: WorkerMetrics, counted: bool) -> None:
        self.metrics = metrics
        self.counted = counted

    def journey(self, node: Node, env: Any, msg: Any) -> None:
        return None

    def on_step(self, node: Node, result: Any, sends: Any, seconds: float, journey: Any) -> None:
        if self.counted:
            self.metrics.on_outcome(node, result, sends, seconds)

    def on_end(self, journey: Any, result: Any, sends: Any, msg: Any) -> None:
        return None

    def on_batch(self) -> None:
        self.metrics.flush()


@dataclass
class Hop:
    steps: Any  # the runtime's StepAgents, with StepMetrics as its hooks
    metrics: WorkerMetrics
    entry: Node
    schema_id: int
    data: list[bytes]  # the records' values at `in`
    batch: int


def build(tmp: Path, records: int, batch: int = 500, metrics: bool = True) -> Hop:
    """The hop with its schemas and data folder in ``tmp`` (the caller's, removed when it is done)."""
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = load_pipeline(CLAIMS / "claims.yaml")
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix="hop")
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp, metrics_port=None)
    runtime = KafkaRuntime(pipeline, topology, options, audit_store=None)  # built, never connected
    steps, worker_metrics = runtime.steps, runtime.extras.metrics
    steps.extras = cast(Any, StepMetrics(worker_metrics, metrics))  # KafkaExtras' hooks, metrics only
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()[:records]
    data = []
    for i, line in enumerate(lines):
        adm = admit(pipeline.workflow, line, i, 1_767_225_600_000_000 + i)
        if adm.accepted:
            encoded = steps.boundaries.encode(adm.envelope, ENTRY, lambda: 0)
            assert isinstance(encoded, bytes), encoded  # an admitted claim fits `in`
            data.append(encoded)
    return Hop(steps, worker_metrics, pipeline.entry_node, topology.schema_id(ENTRY), data, batch)


async def run(hop: Hop, data: list[bytes]) -> list[tuple[list[Any], list[Any]]]:
    """Every record through the hop, the metrics flushed every ``hop.batch``: each record's rows and sends
    (digested after the measured run, so the digest is not measured)."""
    steps, entry, sid_in = hop.steps, hop.entry, hop.schema_id
    ctx, now_us = steps._step_context()
    msg = SimpleNamespace(topic="hop.in", partition=0, offset=0, headers=[])
    outs: list[tuple[list[Any], list[Any]]] = []
    for i, value in enumerate(data):
        sid, env = steps.serde.decode_as(value, sid_in)
        outs.append(await steps._hop(entry, ctx, now_us, msg, sid, env))
        if i % hop.batch == hop.batch - 1:
            steps.extras.on_batch()
    steps.extras.on_batch()
    return outs


def digest(outs: list[tuple[list[Any], list[Any]]]) -> str:
    """Of every row and send: the same in every tree that decides the same."""
    h = hashlib.sha256()
    for rows, sends in outs:
        for row in rows:
            h.update(repr(row.as_tuple()).encode())
        for topic, out, _ in sends:
            h.update(topic.encode() + out)
    return h.hexdigest()[:16]


def warm(hop: Hop, records: int) -> None:
    """Run the first records outside any asyncio task (the hop never suspends without an llm step)."""
    coro = run(hop, hop.data[:records])
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("the warm-up suspended")


@dataclass
class Measured:
    records: int
    us: list[float]  # CPU µs a record, each repeat
    digest: str
    counted: float  # dwf_events_in_total of the first step, all repeats


def measure(records: int, repeat: int, batch: int = 500, metrics: bool = True, warmup: int = 0) -> Measured:
    with tempfile.TemporaryDirectory(prefix="dwf-hop-") as tmp:
        hop = build(Path(tmp), records, batch, metrics)
        if warmup:
            warm(hop, warmup)
        us, outs = [], []
        for _ in range(repeat):
            started = time.process_time()
            outs = asyncio.run(run(hop, hop.data))
            us.append((time.process_time() - started) / len(hop.data) * 1e6)
        wf = hop.steps.ctx.pipeline.workflow.name
        counted = hop.metrics.metrics.value("dwf_events_in_total", workflow=wf, step=hop.entry.path)
    return Measured(len(hop.data), us, digest(outs), counted)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="records between two flushes of the metrics")
    parser.add_argument("--no-metrics", action="store_true", help="the step hook a no-op")
    parser.add_argument("--warm", type=int, default=0, help="records run before, outside the asyncio task")
    args = parser.parse_args()
    m = measure(args.records, args.repeat, args.batch, not args.no_metrics, args.warm)
    each = " ".join(f"{u:.1f}" for u in m.us)
    print(
        f"hop: {m.records} records, CPU us/record each: {each}, min {min(m.us):.1f}, digest {m.digest}, "
        f"counted at the first step {m.counted:.0f}"
    )


if __name__ == "__main__":
    main()
