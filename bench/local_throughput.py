"""Events/s of the claims example through the in-process runtime, next to a bare loop.

The bare loop does only the irreducible work — parse each line, the same Avro encodes/decodes at
each step boundary and the same CEL evaluations — with no framework: no executor, no provenance,
no audit. The runtime run includes Avro round trips, audit rows (hash-chained) and their insert
into the embedded chdb store (in batches, as `dana-wf run` does). Both run in this process, on one
core, over the same events; the ratio is what the framework costs.

    python bench/local_throughput.py [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.chain import Pipeline  # noqa: E402
from processors.ingest import check_field, empty_provenance  # noqa: E402
from schemas.envelope import Envelope  # noqa: E402
from schemas.registry import FileRegistry  # noqa: E402
from schemas.serde import EnvelopeSerde  # noqa: E402
from sinks.chdb_store import ChdbAuditStore  # noqa: E402
from streams.app_builder import load_pipeline  # noqa: E402
from streams.local.run_command import BackgroundInserter  # noqa: E402
from streams.local.runtime import LocalRuntime  # noqa: E402
from streams.topology import Topology  # noqa: E402
from workflow.cel_expr import compile_expr  # noqa: E402

SPEC = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
EVENTS = ROOT / "docs" / "examples" / "claims" / "events.jsonl"


def bare_loop(pipeline: Pipeline, topo: Topology, lines: list[str]) -> float:
    """Parse, type-check, Avro round trip at every boundary, the same CEL programs; nothing else."""
    serde = EnvelopeSerde(topo.registry)
    ir = pipeline.workflow
    derive = [(d.field, compile_expr(d.expr)) for d in ir.steps[0].derive]  # type: ignore[union-attr]
    rules = [compile_expr(r.expr) for r in ir.steps[1].rules]  # type: ignore[union-attr]
    branches = [(b.name, compile_expr(b.when)) for b in ir.steps[2].branches]  # type: ignore[union-attr]
    objective = [compile_expr(r.expr) for r in ir.objective.constraints]
    sids = {b: topo.schema_id(b) for b in ("in", "normalize", "check_claim", "triage", "out")}
    prov = empty_provenance()

    def hop(env: Envelope, boundary: str) -> Envelope:
        return serde.decode(serde.encode(env, sids[boundary]))[1]

    started = time.perf_counter()
    for i, line in enumerate(lines):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        payload = {}
        ok = True
        for f in ir.input:
            value, problem = check_field(f, data.get(f.name))
            ok &= problem is None
            payload[f.name] = value
        if not ok:
            continue
        env = hop(Envelope(str(i), str(i), ir.name, ir.version, "in", payload, 0, 0, dict(prov)), "in")
        p = env.payload
        env.payload = {**p, **{name: e.evaluate(p) for name, e in derive}}
        env = hop(env, "normalize")
        if (
            not all(r.evaluate(env.payload) is True for r in rules[:3])
            or rules[3].evaluate(env.payload) is None
        ):
            continue
        env = hop(env, "check_claim")
        route = next(name for name, cond in branches if cond.evaluate(env.payload) is True)
        env.payload = {**env.payload, "route": route}
        env = hop(env, "triage")
        if all(o.evaluate(env.payload) is True for o in objective):
            hop(env, "out")
    return time.perf_counter() - started


def framework(pipeline: Pipeline, topo: Topology, lines: list[str], audit_dir: Path) -> tuple[float, int]:
    """As `dana-wf run` does it: audit batches go to chdb on the background inserter."""
    store = ChdbAuditStore(audit_dir)
    store.ensure_schema()
    inserter = BackgroundInserter(store)
    try:
        runtime = LocalRuntime(pipeline, topo, None, inserter.submit)
        started = time.perf_counter()
        summary = asyncio.run(runtime.run(lines))
        inserter.close()
        return time.perf_counter() - started, summary.audit_rows
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lines = EVENTS.read_text().splitlines()[: args.events]
    pipeline = load_pipeline(SPEC)
    work = Path(tempfile.mkdtemp(prefix="dwf-bench-"))
    try:
        topo = Topology(pipeline, FileRegistry(work / "schemas"))
        bare, full = [], []
        rows = 0
        for r in range(args.repeat):
            bare.append(bare_loop(pipeline, topo, lines))
            seconds, rows = framework(pipeline, topo, lines, work / f"audit{r}")
            full.append(seconds)
        b, f = statistics.median(bare), statistics.median(full)
        n = len(lines)

        def spread(seconds: list[float]) -> str:  # the machine is shared: show the range, not just the median
            return f"(range {n / max(seconds):,.0f}..{n / min(seconds):,.0f})"

        print(f"events: {n}, repeats: {args.repeat} (medians)")
        print(f"bare loop (Avro + CEL only):        {n / b:>10,.0f} events/s   {spread(bare)}")
        print(
            f"local runtime (+ executor, audit):  {n / f:>10,.0f} events/s   {spread(full)}   "
            f"({rows / f:,.0f} audit rows/s)"
        )
        ratios = sorted(x / y for x, y in zip(bare, full, strict=True))
        print(
            f"ratio runtime / bare:               {b / f:>10.2f}   "
            f"(per repeat {ratios[0]:.2f}..{ratios[-1]:.2f})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
