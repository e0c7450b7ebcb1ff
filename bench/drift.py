"""Per-event cost of DriftMonitor.observe(): figures, never a pass/fail.

    python bench/drift.py [--events 200000]

Prints ns/event for the window bookkeeping alone (no monitors), each feature kind alone, all three
together, and with hopping windows (each event counted in three windows). The events are generated
before timing starts, so only observe() is measured. The lead's end-to-end figure (the workflow with and
without drift monitors, in one run) belongs to the runtime benchmark; this isolates the monitor.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dana_workflows.drift import DriftMonitor
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, WindowIR

WORDS = [
    "water",
    "damage",
    "roof",
    "fire",
    "theft",
    "car",
    "accident",
    "flood",
    "window",
    "broken",
    "phone",
    "laptop",
    "bike",
    "kitchen",
]
MONITORS = {
    "categorical": DriftMonitorIR(id="currency", field="currency"),
    "numeric": DriftMonitorIR(id="amount", field="amount", feature="numeric"),
    "text": DriftMonitorIR(id="description", field="description", feature="text"),
}


def events(n: int, seed: int = 1) -> list[tuple[dict[str, Any], int]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        values = {
            "currency": rng.choices(("USD", "EUR", "GBP"), (0.6, 0.3, 0.1))[0],
            "amount": round(rng.lognormvariate(6.0, 1.0), 2),
            "description": " ".join(rng.choices(WORDS, k=6)),
        }
        out.append((values, 1_700_000_000_000_000 + i * 10_000))  # 100 events/s
    return out


def measure(label: str, drift: DriftIR, evs: list[tuple[dict[str, Any], int]], ids: tuple[str, ...]) -> None:
    monitor = DriftMonitor("bench", drift, {})
    feed = [({k: v[k] for k in ids}, t) for v, t in evs]
    observe = monitor.observe
    records = 0
    start = time.perf_counter_ns()
    for values, t in feed:
        records += len(observe(values, t))
    records += len(monitor.flush())
    elapsed = time.perf_counter_ns() - start
    print(f"{label:<44} {elapsed / len(feed):>8.0f} ns/event   ({records} records)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {args.events} events, 100 events/s")
    evs = events(args.events)
    tumbling = WindowIR(size_s=60)
    hopping = WindowIR(kind="hopping", size_s=60, step_s=20)
    measure("windows only (no monitors), tumbling 60s", DriftIR(window=tumbling), evs, ())
    for kind, mon in MONITORS.items():
        key = {"categorical": "currency", "numeric": "amount", "text": "description"}[kind]
        measure(f"{kind} alone, tumbling 60s", DriftIR(window=tumbling, monitors=(mon,)), evs, (key,))
    every = tuple(MONITORS.values())
    ids = ("currency", "amount", "description")
    measure("all three, tumbling 60s", DriftIR(window=tumbling, monitors=every), evs, ids)
    measure("all three, hopping 60s every 20s (3 windows)", DriftIR(window=hopping, monitors=every), evs, ids)
    end_to_end()


def end_to_end(repeat: int = 3) -> None:
    """The claims example through the local runtime with its drift monitors and without, same run."""
    import asyncio
    import statistics
    import tempfile

    from dana_workflows.processors.pipeline import compile_pipeline
    from dana_workflows.schemas.registry import FileRegistry
    from dana_workflows.streams.local.runtime import LocalRuntime
    from dana_workflows.streams.topology import Topology
    from dana_workflows.workflow.spec import load_spec

    root = Path(__file__).resolve().parents[1]
    lines = (root / "docs" / "examples" / "claims" / "events.jsonl").read_text().splitlines()
    with_drift = load_spec(root / "docs" / "examples" / "claims" / "claims.yaml")
    without = with_drift.model_copy(update={"drift": DriftIR()})
    registry = FileRegistry(Path(tempfile.mkdtemp(prefix="dwf-drift-bench-")))
    timings: dict[str, list[float]] = {"with drift monitors": [], "without": []}
    for _ in range(repeat):
        for label, ir in (("without", without), ("with drift monitors", with_drift)):
            pipeline = compile_pipeline(ir)
            runtime = LocalRuntime(pipeline, Topology(pipeline, registry), None, lambda rows: None)
            started = time.perf_counter()
            asyncio.run(runtime.run(lines))
            timings[label].append((time.perf_counter() - started) / len(lines) * 1e6)
    base = statistics.median(timings["without"])
    drift = statistics.median(timings["with drift monitors"])
    print(f"claims example, local runtime, {len(lines)} events, median of {repeat}:")
    print(f"  without drift monitors: {base:8.1f} us/event")
    print(
        f"  with its 3 monitors:    {drift:8.1f} us/event (+{drift - base:.1f} us/event, x{drift / base:.2f})"
    )


if __name__ == "__main__":
    main()
