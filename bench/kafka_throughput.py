"""Throughput and end-to-end latency of the claims example through a real broker, next to a raw
aiokafka consume-produce passthrough with the same number of hops, measured in the same run.

    python bench/kafka_throughput.py --events 5000 [--broker host:port] [--guarantee exactly_once]

Without --broker (and without KAFKA_BOOTSTRAP_SERVERS) it starts the local launcher broker in a temp
dir and stops it at the end. Latency: the output record's broker timestamp minus the admission time
(the envelope's produced_at), or the passthrough's send time. Figures only, never a pass/fail.
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

from schemas.registry import FileRegistry  # noqa: E402
from schemas.serde import EnvelopeSerde  # noqa: E402
from streams.app_builder import load_pipeline  # noqa: E402
from streams.kafka.admin import ensure_topics  # noqa: E402
from streams.kafka.producer import produce_lines  # noqa: E402
from streams.topology import Topology  # noqa: E402
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


async def bench_runtime(bootstrap: str, n: int, guarantee: str, tmp: Path) -> tuple[float, list[float]]:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
    lines = claims_lines(n, seed=99)
    await produce_lines(pipeline, topology, bootstrap, lines[:1], partitions=2)  # topics + warm-up
    worker = start_worker(tmp, bootstrap, prefix, guarantee, partitions=2)
    terminals = [topology.topic(b) for b in [*pipeline.terminals, "rejected", "dlq"]]
    try:
        while await count(bootstrap, terminals) < 1:
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        await produce_lines(pipeline, topology, bootstrap, lines[1:], partitions=2)
        while await count(bootstrap, terminals) < n and worker.poll() is None:
            await asyncio.sleep(0.25)
        seconds = time.perf_counter() - started
    finally:
        stop_worker(worker)
    serde = EnvelopeSerde(topology.registry)
    lat = [
        (r.timestamp * 1000 - serde.decode(r.value)[1].produced_at) / 1000
        for r in await read_topic(bootstrap, topology.topic("out"))
    ]
    return (n - 1) / seconds, lat[1:]


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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dwf-bench-"))
    started_broker = None
    if not args.broker:
        from streams.launcher import broker

        started_broker = tmp / "kafka"
        info = broker.up(broker.free_port(), broker.free_port(), data_dir=started_broker, wait_s=90)
        args.broker = info.bootstrap
    try:
        hops = len(load_pipeline(CLAIMS_SPEC).nodes)
        rt_rate, rt_lat = await bench_runtime(args.broker, args.events, args.guarantee, tmp)
        pt_rate, pt_lat = await bench_passthrough(args.broker, args.events, hops)
    finally:
        if started_broker is not None:
            from streams.launcher import broker

            broker.down(started_broker)
    print(f"{args.events} events, {hops} hops, {args.guarantee}, broker {args.broker}")
    print(f"{'':24}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'dana-wf kafka runtime':24}{rt_rate:>10.0f}{pct(rt_lat, 50):>10.1f}{pct(rt_lat, 99):>10.1f}")
    print(f"{'raw aiokafka passthrough':24}{pt_rate:>10.0f}{pct(pt_lat, 50):>10.1f}{pct(pt_lat, 99):>10.1f}")
    print(
        f"ratio runtime/passthrough: throughput {rt_rate / pt_rate:.2f}x, "
        f"p50 latency {pct(rt_lat, 50) / pct(pt_lat, 50):.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
