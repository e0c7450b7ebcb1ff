"""Throughput and end-to-end latency of the claims example through a real broker, next to a raw
aiokafka consume-produce passthrough with the same number of hops, measured in the same run.

    python bench/kafka_throughput.py --events 5000 [--broker host:port] [--guarantee exactly_once]
                                     [--repeat 3] [--audit-sink]

Without --broker (and without KAFKA_BOOTSTRAP_SERVERS) it starts the local launcher broker in a temp
dir and stops it at the end. Latency: the output record's broker timestamp minus the admission time
(the envelope's produced_at), or the passthrough's send time. With --repeat N both run N times,
alternating, and the medians are printed (the machine is shared: single runs vary). The worker runs
without the audit sink unless --audit-sink (chdb in the temp dir). Figures only, never a pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from dana_workflows.schemas.registry import FileRegistry  # noqa: E402
from dana_workflows.schemas.serde import EnvelopeSerde  # noqa: E402
from dana_workflows.streams.app_builder import load_pipeline  # noqa: E402
from dana_workflows.streams.kafka.admin import ensure_topics  # noqa: E402
from dana_workflows.streams.kafka.producer import produce_lines  # noqa: E402
from dana_workflows.streams.topology import Topology  # noqa: E402
from tests.integration.kafka_support import (  # noqa: E402
    CLAIMS_SPEC,
    claims_lines,
    read_topic,
    start_worker,
    stop_worker,
)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def count(bootstrap: str, topics: list[str]) -> int:
    """Records on the topics (end offsets: cheap enough to poll without stealing the workers' CPU)."""
    from aiokafka.structs import TopicPartition

    from tests.integration.kafka_support import partitions_of

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench_runtime(
    bootstrap: str, n: int, guarantee: str, tmp: Path, audit_sink: bool
) -> tuple[float, list[float], float]:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
    lines = claims_lines(n, seed=99)
    await produce_lines(pipeline, topology, bootstrap, lines[:1], partitions=2)  # topics + warm-up
    audit = f"chdb://{tmp / prefix}" if audit_sink else None
    worker = start_worker(tmp, bootstrap, prefix, guarantee, audit=audit, partitions=2)
    terminals = [topology.topic(b) for b in [*pipeline.terminals, "rejected", "dlq"]]
    try:
        while await count(bootstrap, terminals) < 1:
            await asyncio.sleep(0.2)
        started, cpu0 = time.perf_counter(), cpu_seconds(worker.pid)
        await produce_lines(pipeline, topology, bootstrap, lines[1:], partitions=2)
        while await count(bootstrap, terminals) < n and worker.poll() is None:
            await asyncio.sleep(0.25)
        seconds = time.perf_counter() - started
        cpu_us = (cpu_seconds(worker.pid) - cpu0) / (n - 1) * 1e6
    finally:
        stop_worker(worker)
    serde = EnvelopeSerde(topology.registry)
    lat = [
        (r.timestamp * 1000 - serde.decode(r.value)[1].produced_at) / 1000
        for r in await read_topic(bootstrap, topology.topic("out"))
    ]
    return (n - 1) / seconds, lat[1:], cpu_us


async def bench_passthrough(bootstrap: str, n: int, hops: int) -> tuple[float, list[float]]:
    prefix = f"p{uuid.uuid4().hex[:6]}"
    topics = [f"{prefix}.hop{i}" for i in range(hops + 1)]
    await ensure_topics(bootstrap, topics, 2, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()

    async def hop(src: str, dst: str) -> None:
        consumer = AIOKafkaConsumer(
            src,
            bootstrap_servers=bootstrap,
            group_id=f"{prefix}-{src}",
            auto_offset_reset="earliest",
            enable_auto_commit=True,
        )
        await consumer.start()
        try:
            async for rec in consumer:
                await producer.send(dst, rec.value, key=rec.key)
        finally:
            await consumer.stop()

    tasks = [asyncio.create_task(hop(a, b)) for a, b in itertools.pairwise(topics)]
    await asyncio.sleep(3)  # groups join
    payload = b"x" * 600  # about the size of a claims envelope
    started = time.perf_counter()
    for i in range(n):
        await producer.send(
            topics[0], struct.pack(">q", time.time_ns() // 1000) + payload, key=str(i).encode()
        )
    await producer.flush()
    while await count(bootstrap, topics[-1:]) < n:
        await asyncio.sleep(0.25)
    seconds = time.perf_counter() - started
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await producer.stop()
    lat = [
        (r.timestamp * 1000 - struct.unpack(">q", r.value[:8])[0]) / 1000
        for r in await read_topic(bootstrap, topics[-1])
    ]
    return n / seconds, lat


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--broker", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    ap.add_argument("--guarantee", default="at_least_once")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--audit-sink", action="store_true", help="the worker stores the audit (chdb)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dwf-bench-"))
    started_broker = None
    if not args.broker:
        from dana_workflows.devservices.kafka import broker

        started_broker = tmp / "kafka"
        info = broker.up(broker.free_port(), broker.free_port(), data_dir=started_broker, wait_s=90)
        args.broker = info.bootstrap
    try:
        hops = len(load_pipeline(CLAIMS_SPEC).nodes)
        runs: list[tuple[float, float, float, float, float, float, float]] = []
        for _ in range(args.repeat):
            rt_rate, rt_lat, cpu_us = await bench_runtime(
                args.broker, args.events, args.guarantee, tmp, args.audit_sink
            )
            pt_rate, pt_lat = await bench_passthrough(args.broker, args.events, hops)
            run = (
                rt_rate,
                pct(rt_lat, 50),
                pct(rt_lat, 99),
                cpu_us,
                pt_rate,
                pct(pt_lat, 50),
                pct(pt_lat, 99),
            )
            runs.append(run)
            print(
                "run: runtime {:.0f} ev/s p50 {:.1f} p99 {:.1f} ms, {:.0f} us cpu/event; "
                "passthrough {:.0f} ev/s p50 {:.1f} p99 {:.1f} ms".format(*run),
                flush=True,
            )
    finally:
        if started_broker is not None:
            from dana_workflows.devservices.kafka import broker

            broker.down(started_broker)
    med = [statistics.median(col) for col in zip(*runs, strict=True)]
    sink = "with" if args.audit_sink else "without"
    print(
        f"{args.events} events, {hops} hops, {args.guarantee}, {sink} audit sink, broker {args.broker}, "
        f"median of {len(runs)}"
    )
    print(f"{'':26}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'cpu us/ev':>11}")
    print(f"{'dana-wf kafka runtime':26}{med[0]:>10.0f}{med[1]:>10.1f}{med[2]:>10.1f}{med[3]:>11.0f}")
    print(f"{'raw aiokafka passthrough':26}{med[4]:>10.0f}{med[5]:>10.1f}{med[6]:>10.1f}")
    print(f"ratio runtime/passthrough: throughput {med[0] / med[4]:.2f}x, p50 latency {med[1] / med[5]:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
