"""What OpenTelemetry tracing costs a run: claims events/s with tracing off (the baseline, measured in the
same run), on for every event, and on for a sample of events, exporting over OTLP/HTTP to a receiver in
another process (tests/otlp_receiver.py), as a collector would be.

    python bench/tracing_overhead.py [--events 5000] [--repeat 2]

Prints one line per mode: events/s and the spans the receiver got (all of them: none may be dropped).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.core.settings import load_settings  # noqa: E402
from dana_workflows.streams.embedded import RunResult, run  # noqa: E402

CLAIMS = ROOT / "docs" / "examples" / "claims"
RECEIVER = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "from tests.otlp_receiver import Receiver\n"
    "srv = Receiver(); print(srv.server_address[1], flush=True)\n"
    "import threading; threading.Thread(target=srv.serve_forever, daemon=True).start()\n"
    "sys.stdin.readline()\n"  # stop when asked, then say how many spans came
    "print(len(srv.spans), flush=True)\n"
)
MODES = (("off", None), ("every event", 1.0), ("10% of events", 0.1))


def expected_spans(result: RunResult) -> int:
    """A root per event, a span per audit row of an event, a client span per llm call (none here)."""
    return len(result.decisions) + sum(1 for r in result.audit_rows if r.kind != "drift")


def measure(events: int, repeat: int) -> list[tuple[str, float, int, int]]:
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()[:events]
    os.environ["DWF_SCHEMA_REGISTRY"] = f"file://{tempfile.mkdtemp()}/schemas"
    rows: list[tuple[str, float, int, int]] = []
    for label, ratio in MODES:
        best, received, expected = 0.0, 0, 0
        for _ in range(repeat):
            receiver = subprocess.Popen(
                [sys.executable, "-c", RECEIVER, str(ROOT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert receiver.stdout is not None and receiver.stdin is not None
            port = int(receiver.stdout.readline())
            settings = load_settings()
            if ratio is not None:
                settings.otlp_endpoint, settings.otlp_sample_ratio = f"http://127.0.0.1:{port}", ratio
            started = time.perf_counter()
            result = run(CLAIMS / "claims.yaml", lines, settings=settings)  # ends after the spans are sent
            best = max(best, len(lines) / (time.perf_counter() - started))
            receiver.stdin.write("\n")
            receiver.stdin.flush()
            received = int(receiver.stdout.readline())
            receiver.wait(10)
            expected = expected_spans(result) if ratio == 1.0 else 0
        rows.append((label, best, received, expected))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for label, rate, received, expected in measure(args.events, args.repeat):
        full = f" (of {expected})" if expected else ""
        print(f"tracing {label:>14}: {rate:8,.0f} events/s, {received} spans received{full}")


if __name__ == "__main__":
    main()
