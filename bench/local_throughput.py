"""Events/s of the claims example through the in-process runtime, next to a bare loop.

The bare loop does only the irreducible work — parse each line, the same Avro encodes/decodes at
each step boundary and the same CEL evaluations — with no framework: no executor, no provenance,
no audit. The runtime run includes Avro round trips, audit rows (hash-chained) and their insert
into the embedded chdb store (in batches, through the store's writer process, as `dana-wf run`
does). The pipeline of both runs in this process, on one core, over the same events; the ratio is
what the framework costs. The CPU per event of this process and of the writer process is printed
too: the writer's chdb work runs on the second core.

    python bench/local_throughput.py [--events N] [--repeat R] [--also thread,memory]

--also adds runs of the same runtime with chdb inside this process on the inserter thread (what
`dana-wf run` did before the writer process), with the rows kept in memory (no store), and with the
JSON-lines output files `dana-wf run` writes as well (files).

    python bench/local_throughput.py --shared [--events N] [--repeat R] [--settled]

--shared measures only the processing both runtimes share (the executor, CEL, audit rows, the Avro
boundaries, drift), with the rows kept in memory and a fixed clock: the CPU per event of each repeat
(`time.process_time`) and a digest of every audit row, which two checkouts must print identically (same
rows, same hashes). --settled runs them with the collector settled as both runtimes settle it
(streams/gc_tuning.py; the default keeps CPython's thresholds, as sessions 10 and 11 measured). With
--warmup W it first runs W other events outside any asyncio task and then the measured events in one
`asyncio.run`, so callgrind can count the instructions of the measured events alone (docs/performance.md,
"Session 10: shared processing"):

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no --toggle-collect='task_step*' \
        "$(python -c 'import sys; print(sys.executable)')" bench/local_throughput.py --shared --events 500 \
        --warmup 300 --repeat 1

(the interpreter itself: valgrind does not follow a pyenv shim's exec, and then counts nothing of the run)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.core.settings import Settings  # noqa: E402
from dana_workflows.processors.base import StepContext  # noqa: E402
from dana_workflows.processors.ingest import check_field, empty_provenance  # noqa: E402
from dana_workflows.processors.pipeline import Pipeline  # noqa: E402
from dana_workflows.schemas.envelope import Envelope  # noqa: E402
from dana_workflows.schemas.registry import FileRegistry  # noqa: E402
from dana_workflows.schemas.serde import EnvelopeSerde  # noqa: E402
from dana_workflows.sinks.audit_model import AuditRow, AuditStore  # noqa: E402
from dana_workflows.sinks.chdb_store import ChdbAuditStore  # noqa: E402
from dana_workflows.streams.app_builder import load_pipeline, open_audit_store  # noqa: E402
from dana_workflows.streams.gc_tuning import settled_collector  # noqa: E402
from dana_workflows.streams.local.inserter import BackgroundInserter  # noqa: E402
from dana_workflows.streams.local.outputs import OutputFiles  # noqa: E402
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows  # noqa: E402
from dana_workflows.streams.topology import Topology  # noqa: E402
from dana_workflows.workflow.cel_expr import compile_expr  # noqa: E402

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


@dataclass
class Run:
    seconds: float
    audit_rows: int
    cpu_self: float  # CPU seconds of this process (all its threads)
    cpu_writer: float  # CPU seconds of the store's writer process (0 without one)


def framework(
    pipeline: Pipeline, topo: Topology, lines: list[str], audit_dir: Path, store: str, batch: int
) -> Run:
    """As `dana-wf run` does it (store="process"): audit batches go through the background inserter
    to chdb's writer process. store="thread": chdb in this process, on the inserter thread (what
    `dana-wf run` did before the writer process); "memory": rows kept in a list, no store."""
    sink_store: AuditStore | None = None
    outputs = OutputFiles(audit_dir.with_name(audit_dir.name + "-out"), topo) if store == "files" else None
    if store in ("process", "files"):
        sink_store = open_audit_store(f"chdb://{audit_dir}", writer=True)
    elif store == "thread":
        sink_store = ChdbAuditStore(audit_dir)
    kept: list[AuditRow] = []
    if sink_store is not None:
        sink_store.ensure_schema()
        inserter = BackgroundInserter(sink_store)
    cpu0, child0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    try:
        sink = inserter.submit if sink_store else collect_rows(kept)
        runtime = LocalRuntime(pipeline, topo, outputs, sink, audit_batch=batch)
        started = time.perf_counter()
        with settled_collector():  # as `dana-wf run` does for its run (streams/gc_tuning.py)
            summary = asyncio.run(runtime.run(lines))
        if sink_store is not None:
            inserter.close()
        seconds = time.perf_counter() - started
    finally:
        if sink_store is not None:
            sink_store.close()  # the writer process exits: its CPU time is counted in RUSAGE_CHILDREN
    return Run(
        seconds,
        summary.audit_rows,
        _cpu(resource.RUSAGE_SELF) - cpu0,
        _cpu(resource.RUSAGE_CHILDREN) - child0,
    )


def shared(
    pipeline: Pipeline, topo: Topology, lines: list[str], warmup: list[str], settled: bool = False
) -> tuple[float, str, int]:
    """The shared processing alone: CPU seconds of the run, a digest of its rows, their count.

    A fixed clock and untimed steps (durations written as 0), so the rows, and their digest, depend on the
    code and the input only. The warm-up runs outside any asyncio task (the measured run is the only
    `task_step` a callgrind toggle sees). settled: the measured run with the collector settled as both
    runtimes settle it (streams/gc_tuning.py), instead of CPython's default thresholds."""
    if warmup:
        warm = LocalRuntime(pipeline, topo, None, collect_rows([]), ctx=_fixed_context()).run(warmup)
        try:
            warm.send(None)  # the runtime never suspends on an in-memory sink: one send runs it all
        except StopIteration:
            pass
        else:
            warm.close()
            raise RuntimeError("the warm-up run suspended; run without --warmup")
    kept: list[AuditRow] = []
    runtime = LocalRuntime(pipeline, topo, None, collect_rows(kept), ctx=_fixed_context())
    with settled_collector() if settled else contextlib.nullcontext():
        cpu0 = time.process_time()
        asyncio.run(runtime.run(lines))
        cpu = time.process_time() - cpu0
    digest = hashlib.sha256()
    for row in kept:
        digest.update(repr(row.as_tuple()).encode())
    return cpu, digest.hexdigest()[:16], len(kept)


def _fixed_context() -> StepContext:
    now = [1_767_225_600_000_000]

    def clock() -> int:
        now[0] += 7
        return now[0]

    return StepContext(clock=clock, timed=False)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--also",
        default="",
        help="comma-separated extra variants of the runtime run: thread (chdb on the inserter thread "
        "in this process), memory (no store), files (plus the jsonl output files, as dana-wf run)",
    )
    ap.add_argument(
        "--audit-batch",
        type=int,
        default=Settings().audit_batch_size,
        help="audit rows per insert (DWF_AUDIT_BATCH_SIZE, as dana-wf run uses it)",
    )
    ap.add_argument(
        "--shared",
        action="store_true",
        help="only the processing both runtimes share: CPU per event and a digest of the audit rows",
    )
    ap.add_argument("--warmup", type=int, default=0, help="with --shared: events run first, outside asyncio")
    ap.add_argument(
        "--settled",
        action="store_true",
        help="with --shared: the collector settled as the runtimes settle it (streams/gc_tuning.py); "
        "default: CPython's thresholds, as sessions 10 and 11 measured",
    )
    args = ap.parse_args()
    every = EVENTS.read_text().splitlines()
    lines = every[: args.events]
    pipeline = load_pipeline(SPEC)
    if args.shared:
        work = Path(tempfile.mkdtemp(prefix="dwf-bench-"))
        try:
            topo = Topology(pipeline, FileRegistry(work / "schemas"))
            warmup = every[len(every) - args.warmup :] if args.warmup else []
            results = [shared(pipeline, topo, lines, warmup, args.settled) for _ in range(args.repeat)]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        per_event = sorted(cpu / len(lines) * 1e6 for cpu, _, _ in results)
        collector = "settled as the runtimes settle it" if args.settled else "CPython's defaults"
        print(
            f"events: {len(lines)}, repeats: {args.repeat}, rows kept in memory, fixed clock, "
            f"collector: {collector}"
        )
        print(
            f"shared processing, CPU per event: median {statistics.median(per_event):.1f} µs, "
            f"min {per_event[0]:.1f} (each: {' '.join(f'{x:.1f}' for x in per_event)})"
        )
        print(f"audit rows: {results[0][2]}, digest of the rows: {results[0][1]}")
        return
    variants = ["process", *[v for v in args.also.split(",") if v]]
    work = Path(tempfile.mkdtemp(prefix="dwf-bench-"))
    try:
        topo = Topology(pipeline, FileRegistry(work / "schemas"))
        bare: list[float] = []
        runs: dict[str, list[Run]] = {v: [] for v in variants}
        for r in range(args.repeat):  # interleaved, so a busy moment of the machine hits every variant
            bare.append(bare_loop(pipeline, topo, lines))
            for v in variants:
                runs[v].append(framework(pipeline, topo, lines, work / f"audit-{v}-{r}", v, args.audit_batch))
        n = len(lines)
        b = statistics.median(bare)

        def spread(seconds: list[float]) -> str:  # the machine is shared: show the range, not just the median
            return f"(range {n / max(seconds):,.0f}..{n / min(seconds):,.0f})"

        print(f"events: {n}, repeats: {args.repeat} (medians), audit rows per insert: {args.audit_batch}")
        print(f"bare loop (Avro + CEL only):        {n / b:>10,.0f} events/s   {spread(bare)}")
        for v in variants:
            full = [x.seconds for x in runs[v]]
            f = statistics.median(full)
            rows = runs[v][0].audit_rows
            label = {
                "process": "local runtime (+ executor, audit):",
                "thread": "  same, chdb on a thread:",
                "memory": "  same, rows kept in memory:",
                "files": "  same, + jsonl output files:",
            }[v]
            print(f"{label:<36}{n / f:>10,.0f} events/s   {spread(full)}   ({rows / f:,.0f} audit rows/s)")
            ratios = sorted(x / y for x, y in zip(bare, full, strict=True))
            per_repeat = f"(per repeat {ratios[0]:.2f}..{ratios[-1]:.2f})"
            print(f"  ratio runtime / bare:             {b / f:>10.2f}   {per_repeat}")
            own = statistics.median(x.cpu_self for x in runs[v]) / n * 1e6
            writer = statistics.median(x.cpu_writer for x in runs[v]) / n * 1e6
            print(
                f"  CPU per event: this process {own:.0f} µs"
                + (f", writer process {writer:.0f} µs" if writer else "")
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
