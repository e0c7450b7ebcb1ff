"""µs per encode/decode of a typical claims envelope: fastavro vs schemas.codec (its generated Python
code and, when built, its C executor schemas/_avrofast.c), same run.

    python bench/avro_codec.py [--n 20000]

Timings are the best of 5 runs on one core; on a shared 2-core machine expect ±15% between runs.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.codec import ACCELERATOR_BUILT, ACCELERATOR_ERROR, compile_schema
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.ir import FieldIR

FIELDS = [
    FieldIR(name="claim_id", type="string"),
    FieldIR(name="policy_id", type="string"),
    FieldIR(name="policy_limit", type="double"),
    FieldIR(name="amount", type="double"),
    FieldIR(name="currency", type="string"),
    FieldIR(name="description", type="string"),
    FieldIR(name="submitted_at", type="long"),
    FieldIR(name="channel", type="string", optional=True),
    FieldIR(name="amount_usd", type="double"),
]


def claims_envelope() -> Envelope:
    rules = [
        {
            "rule_id": f"rule_{i}",
            "step": "validate",
            "passed": i != 3,
            "severity": "error" if i == 3 else "info",
            "message": f"rule {i} {'failed' if i == 3 else 'passed'}",
            "values": '{"amount":1250.5,"policy_limit":5000.0}',
        }
        for i in range(4)
    ]
    return Envelope(
        event_id="0190f5a2-7c1e-7b3a-9d4e-2f1a6b8c9d0e",
        run_id="run-2024-06-01-0001",
        workflow="claims-triage",
        workflow_version=3,
        step="enrich",
        produced_at=1_717_243_200_123_456,
        attempt=0,
        payload={
            "claim_id": "CLM-000123",
            "policy_id": "POL-98765",
            "policy_limit": 5000.0,
            "amount": 1250.5,
            "currency": "EUR",
            "description": "Water damage in the kitchen after a pipe burst; plumber invoice attached.",
            "submitted_at": 1_717_243_100_000_000,
            "channel": "web",
            "amount_usd": 1356.79,
        },
        provenance={
            "rule_results": rules,
            "reasons": ["amount within policy limit"],
            "route": "auto_approve",
            "error": None,
            "model": None,
            "prompt_hash": None,
            "knowledge_versions": {"fx_rates": "2024-06-01"},
        },
        chain_seq=2,
        chain_hash="ab" * 32,
    )


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    """Best of 5 runs of n calls, in µs per call (best filters out noise from the other core)."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20_000, help="calls per timing run")
    args = ap.parse_args()

    schema = envelope_schema("claims-triage", "enrich", FIELDS)
    parsed = fastavro.parse_schema(schema)
    python = compile_schema(schema, accelerate=False)
    record = claims_envelope().to_record()
    data = python.encode(record)

    def fa_encode() -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, record)
        return buf.getvalue()

    def fa_decode() -> Any:
        return fastavro.schemaless_reader(io.BytesIO(data), parsed, None)

    assert fa_encode() == data, "codec bytes differ from fastavro"
    t0 = time.perf_counter()
    compile_schema(schema, accelerate=False)
    compile_ms = (time.perf_counter() - t0) * 1e3

    impls = {"python": python}
    if ACCELERATOR_BUILT:
        impls["C"] = compile_schema(schema, accelerate=True)
        assert impls["C"].encode(record) == data and impls["C"].decode(data) == python.decode(data)
    else:
        print(f"(C executor not built: {ACCELERATOR_ERROR})")
    rows = {
        "encode": [per_call_us(fa_encode, args.n)]
        + [per_call_us(lambda c=c: c.encode(record), args.n) for c in impls.values()],
        "decode": [per_call_us(fa_decode, args.n)]
        + [per_call_us(lambda c=c: c.decode(data), args.n) for c in impls.values()],
    }
    print(f"claims envelope: {len(data)} bytes, 4 rule results; compile once: {compile_ms:.2f} ms")
    heads = "".join(f"{n + ' µs':>11}{'vs fa':>7}" for n in impls)
    print(f"{'':8}{'fastavro µs':>13}{heads}")
    for name, (fa, *ours) in rows.items():
        print(f"{name:8}{fa:13.2f}" + "".join(f"{t:11.2f}{fa / t:6.1f}x" for t in ours))
    if "C" in impls:
        for name, (_fa, py, c) in rows.items():
            print(f"C vs python, {name}: {py / c:.1f}x")
    round_trips = [sum(col) for col in zip(*rows.values(), strict=True)]
    caps = ", ".join(
        f"{1e6 / (5 * t):,.0f} with {n}" for n, t in zip(["fastavro", *impls], round_trips, strict=True)
    )
    print(f"5 boundaries/event: Avro alone caps at {caps} (events/s)")


if __name__ == "__main__":
    main()
