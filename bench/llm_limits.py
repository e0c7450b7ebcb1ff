"""Benchmark: LLM step throughput under a provider limit, and the client's added latency per call.

1. The test server enforces N requests per (scaled) minute; the llm step, limited to the same N, is fed
   far more events than that. Prints the achieved call rate as a share of N (target >= 95 %) and the 429s
   that reached the recovery policy (target 0).
2. Sequential calls against the same server: raw ``openai`` client vs LLMClient (no cache, no limits),
   and the difference per call.

Run: python bench/llm_limits.py [--rpm 30] [--window 2.0] [--windows 4] [--calls 300]
Figures only; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.devservices.llm_server import Script, ServerThread
from dana_workflows.processors.base import OutcomeKind, StepContext
from dana_workflows.processors.llm import LLMClient, LLMProcessor, LLMRequest, OutputSpec
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR, LLMLimitsIR, LLMStepIR

OUTPUT = (FieldIR(name="risk", type="string"), FieldIR(name="confidence", type="double"))
RULES = [{"reply": {"risk": "low", "confidence": 0.8}}]


async def throughput(server: ServerThread, rpm: int, window: float, windows: int) -> dict[str, Any]:
    step = LLMStepIR(
        name="risk",
        prompt="Assess claim {{ claim_id }}: {{ description }}",
        output=OUTPUT,
        limits=LLMLimitsIR(rpm=rpm, concurrency=16),
    )
    proc = LLMProcessor(step, "bench", window_s=window)
    client = LLMClient(LLMEndpoint(base_url=server.base_url), window_s=window)
    ctx = StepContext(clock=lambda: 0, llm=client)
    offered = 3 * rpm * windows
    outcomes: list[Any] = []

    async def one(i: int) -> None:
        env = Envelope(
            f"e{i}", f"r{i}", "bench", 1, "in", {"claim_id": f"c{i}", "description": "a dented door"}
        )
        outcomes.append(await proc.process(env, ctx))

    server.server.log.clear()
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(i)) for i in range(offered)]
    await asyncio.sleep(windows * window)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await client.aclose()
    log = list(server.server.log)
    first = min((e["mono"] for e in log), default=t0)  # from the first request: connection set-up aside
    accepted = [e for e in log if e["status"] == 200 and e["mono"] - first < (windows - 1) * window]
    limited = sum(1 for e in log if e["status"] == 429)
    to_recovery = sum(
        1 for o in outcomes if o.kind is OutcomeKind.FAIL and o.details.get("error.type") == "rate_limited"
    )
    return {
        "offered": offered,
        "allowed": rpm * (windows - 1),
        "accepted": len(accepted),
        "share": len(accepted) / (rpm * (windows - 1)),
        "server_429": limited,
        "429_to_recovery": to_recovery,
        "failed": sum(1 for o in outcomes if o.kind is OutcomeKind.FAIL),
    }


async def latency(server: ServerThread, calls: int) -> dict[str, float]:
    spec = OutputSpec(OUTPUT, "bench")
    raw = openai.AsyncOpenAI(base_url=server.base_url, api_key="no-key", max_retries=0)
    client = LLMClient(LLMEndpoint(base_url=server.base_url, concurrency=1000))
    messages: list[Any] = [{"role": "system", "content": spec.instruction()}]
    raw_ms: list[float] = []
    ours_ms: list[float] = []
    for i in range(calls + 20):  # the first 20 of each warm up connections
        t = time.perf_counter()
        await raw.chat.completions.create(
            model="dwf-test-model",
            messages=[*messages, {"role": "user", "content": f"claim {i}"}],
            temperature=0.0,
            max_tokens=512,
            response_format=spec.response_format("json_schema"),  # type: ignore[arg-type]
        )
        if i >= 20:
            raw_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        result = await client.complete(LLMRequest(models=("default",), prompt=f"claim {i}", output=spec))
        assert result.ok, result.error
        if i >= 20:
            ours_ms.append((time.perf_counter() - t) * 1000)
    await raw.close()
    await client.aclose()
    med_raw, med_ours = statistics.median(raw_ms), statistics.median(ours_ms)
    return {
        "raw_median_ms": med_raw,
        "ours_median_ms": med_ours,
        "added_median_ms": med_ours - med_raw,
        "raw_p95_ms": statistics.quantiles(raw_ms, n=20)[18],
        "ours_p95_ms": statistics.quantiles(ours_ms, n=20)[18],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rpm", type=int, default=30, help="requests allowed per window (N)")
    ap.add_argument("--window", type=float, default=2.0, help="the scaled minute, in seconds")
    ap.add_argument("--windows", type=int, default=4, help="how many windows to run")
    ap.add_argument("--calls", type=int, default=300, help="sequential calls for the latency comparison")
    args = ap.parse_args()
    script = Script.model_validate(
        {"rules": RULES, "faults": {"rate_limit": {"rpm": args.rpm, "window_s": args.window}}}
    )
    server = ServerThread(script).start()
    try:
        t = asyncio.run(throughput(server, args.rpm, args.window, args.windows))
        print(
            f"limits: N={args.rpm} per {args.window:g}s window, run {args.windows} windows, measured over "
            f"{args.windows - 1} from the first request; "
            f"offered {t['offered']} "
            f"events; accepted {t['accepted']} of {t['allowed']} allowed = {t['share']:.1%} of N "
            f"(target >= 95%); 429s from server {t['server_429']}; 429s reaching recovery "
            f"{t['429_to_recovery']} (target 0)"
        )
        server.server.script.faults.rate_limit.rpm = None
        lat = asyncio.run(latency(server, args.calls))
        print(
            f"latency over {args.calls} sequential calls: raw openai median {lat['raw_median_ms']:.2f} ms "
            f"(p95 {lat['raw_p95_ms']:.2f}); LLMClient median {lat['ours_median_ms']:.2f} ms "
            f"(p95 {lat['ours_p95_ms']:.2f}); added {lat['added_median_ms']:.2f} ms per call"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
