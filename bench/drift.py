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

from processors.drift import DriftMonitor
from workflow.ir import DriftIR, DriftMonitorIR, WindowIR

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


if __name__ == "__main__":
    main()
