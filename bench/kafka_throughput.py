"""The Kafka runtime on the claims example next to its baselines, one broker, the same minutes.

    python bench/kafka_throughput.py [--events 10000] [--broker host:port] [--repeat 1]
                                     [--latency-rate 300] [--latency-seconds 10] [--skip quix,...]

Throughput is measured on a pre-produced backlog (the events are in the input topic before the
consumer starts; the rate counts from its first output to its last, so start-up is not in it), latency
under a steady offered load (``--latency-rate`` events/s for ``--latency-seconds``; output's broker
timestamp minus the event's admission time), as separate figures. Rows:

* ``in-process``: ``dana-wf run``'s runtime on the same lines (bench/local_throughput.py's run), with its
  chdb audit store and with the rows kept in memory;
* ``worker ...``: ``dana-wf worker`` processes (fused by default; ``per-step`` = the old layout, one
  topic and agent per step), at-least-once / exactly-once, with and without the audit sink, 1 and 2
  workers in one group (2 workers find the backlog only once both hold an input partition: GroupBacklog);
* ``raw aiokafka`` / ``raw confluent``: a program with no processing that moves the same messages with a
  client: consumes the input records, produces one output of the same size each and, per batch and
  partition, one audit message as large as the worker's audit rows for those events (measured from the
  local runtime's rows), commits every second; the aiokafka one keys its sends with the worker's partitioner
  (streams/kafka/partitioner.py), so a send costs it what it costs the worker;
* ``quix``: a Quix Streams application (quixstreams is a bench-only dependency: ``pip install
  quixstreams``) doing the claims workflow's logic by hand on JSON (normalize, the four rules, the route,
  the objective), fused in one hop and with the same four hops; it writes no audit rows, no drift.

Figures only, never a pass/fail; the ratios are what docs/performance.md compares, since this shared
machine's speed varies from day to day. Without --broker (and KAFKA_BOOTSTRAP_SERVERS) it starts the
launcher's broker in a temp dir. The script also runs its own raw and Quix programs as subprocesses
(``--program``), so that each one's CPU is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.processors.pipeline import DLQ, REJECTED, Pipeline  # noqa: E402
from dana_workflows.schemas.registry import FileRegistry  # noqa: E402
from dana_workflows.schemas.serde import EnvelopeSerde  # noqa: E402
from dana_workflows.streams.app_builder import load_pipeline  # noqa: E402
from dana_workflows.streams.kafka.admin import (  # noqa: E402
    BrokerUnavailableError,
    delete_topics,
    ensure_topics,
)
from dana_workflows.streams.kafka.commit import AUDIT_MESSAGE_BYTES  # noqa: E402
from dana_workflows.streams.kafka.partitioner import PARTITIONER  # noqa: E402
from dana_workflows.streams.kafka.producer import produce_lines  # noqa: E402
from dana_workflows.streams.kafka.wire import WireCodec  # noqa: E402
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows  # noqa: E402
from dana_workflows.streams.topology import Topology  # noqa: E402
from tests.integration.kafka_support import (  # noqa: E402
    CLAIMS_SPEC,
    claims_lines,
    start_worker,
    stop_worker,
)

PARTITIONS = 2
QUIX_HOPS = ("normalize", "check_claim", "triage", "enforce_objective")


@dataclass
class Figure:
    name: str
    events: int = 0  # outcomes counted
    seconds: float = 0.0  # first output to last
    cpu_us: float = 0.0  # CPU of the consumer process(es) per event, over the same span
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def pct(values: Sequence[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


LOG_TAIL = 30  # lines of a measured program's log quoted when it exits before its row ends


class ProgramExited(RuntimeError):
    """A measured program (worker, raw client, Quix app) stopped before its row ended."""


def exited_early(proc: subprocess.Popen[bytes], log: Path) -> ProgramExited:
    """The error for a program that stopped on its own: its exit code, its log's path and last lines (a
    measured program runs until the bench stops it, so any exit before that is a failure to look at)."""
    lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:] if log.exists() else []
    tail = "\n".join(lines) if lines else "(the log is empty)"
    return ProgramExited(
        f"process {proc.pid} exited early with code {proc.returncode}; its log is {log}, ending:\n{tail}"
    )


def cpu_seconds(proc: subprocess.Popen[bytes], log: Path) -> float:
    """user + system CPU time of a live process (Linux /proc); ProgramExited if it is not running."""
    if proc.poll() is None:
        # a zombie still has its stat; poll() reaps it, so the file can only vanish once poll() saw the exit
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    proc.wait()
    raise exited_early(proc, log)


@contextlib.contextmanager
def own_topics(broker: str, prefix: str) -> Iterator[None]:
    """Delete the row's topics (``prefix.*``, and the worker app's internal ``prefix-*``) when it ends,
    whether it succeeded or failed: a row makes 5-20 topics, and rows never deleting them filled the
    shared broker to 10,189 topics until it ran out of heap (docs/performance.md, session 10)."""
    try:
        yield
    finally:
        try:
            asyncio.run(delete_topics(broker, (f"{prefix}.", f"{prefix}-")))
        except BrokerUnavailableError as exc:  # keep the row's own error, if any, the one raised
            print(f"  could not delete the topics {prefix}.*, {prefix}-*: {exc}", file=sys.stderr, flush=True)


# -- watching outputs ----------------------------------------------------------------------------------------
class Outputs:
    """A read_committed consumer of the output topics in a thread of this process (librdkafka: a few µs a
    record, so watching costs the measured programs little of the shared CPU). ``wait`` returns when
    ``n`` records arrived, with the time of the first and the last arrival."""

    def __init__(
        self,
        broker: str,
        topics: Sequence[str],
        keep: Callable[[Any], Any] | None = None,
        starts: Sequence[str] = (),
    ) -> None:
        """``topics``: the outputs counted; ``starts``: the topics whose first record starts the clock (a
        layout with several hops: the first hop's output, else the first output would come only after
        the earlier hops ran ahead)."""
        from confluent_kafka import Consumer

        self.consumer = Consumer(
            {
                "bootstrap.servers": broker,
                "group.id": f"bench-watch-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self.counted = set(topics)
        self.starts = set(starts) or self.counted
        self.consumer.subscribe(sorted(self.counted | self.starts))
        self.keep = keep
        self.kept: list[Any] = []
        self.count = 0
        self.first_at = 0.0
        self.last_at = 0.0
        # the same span in the outputs' own timestamps (when the worker sent them, wall clock): under
        # exactly-once outputs become visible only at each commit, so a backlog drained in a transaction or
        # two arrives all at once and its arrival times say nothing about how fast it was handled
        self.first_ts = 0.0
        self.last_ts = 0.0

    def poll(self, timeout_s: float = 0.1) -> None:
        for msg in self.consumer.consume(1000, timeout_s):
            if msg.error() is not None:
                continue
            now = time.perf_counter()
            if not self.first_at and msg.topic() in self.starts:
                self.first_at = now
                self.first_ts = msg.timestamp()[1] / 1000.0
            if msg.topic() not in self.counted:
                continue
            self.count += 1
            self.last_at = now
            self.last_ts = max(self.last_ts, msg.timestamp()[1] / 1000.0)
            if self.keep is not None:
                self.kept.append(self.keep(msg))

    def restart_clock(self) -> None:
        """The next record's arrival starts the clock (records already read stay counted)."""
        self.first_at = 0.0

    def wait_start(self, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> float:
        """Until the clock starts (the first record on a start topic); its time."""
        deadline = time.monotonic() + timeout_s
        while not self.first_at and time.monotonic() < deadline and alive():
            self.poll()
        return self.first_at

    def wait(self, n: int, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.count < n and time.monotonic() < deadline and alive():
            self.poll()
        return self.count >= n

    def settle(self, quiet_s: float = 2.0, timeout_s: float = 60.0) -> None:
        """Read until nothing new arrived for ``quiet_s`` (how a steady-load run ends)."""
        deadline = time.monotonic() + timeout_s
        seen, since = self.count, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet_s:
            self.poll()
            if self.count != seen:
                seen, since = self.count, time.monotonic()

    def close(self) -> None:
        self.consumer.close()


def terminal_topics(pipeline: Pipeline, topology: Topology) -> list[str]:
    return [topology.topic(b) for b in [*pipeline.terminals, REJECTED, DLQ]]


def audit_bytes_per_event(pipeline: Pipeline, topology: Topology, lines: list[str]) -> int:
    """How many bytes of audit rows an event makes (the local runtime's rows, as the worker encodes them)."""
    rows: list[Any] = []
    asyncio.run(LocalRuntime(pipeline, topology, None, collect_rows(rows)).run(lines))
    codec = WireCodec(topology.registry)
    return len(codec.encode_rows(rows)) // max(1, len(lines))


# -- the in-process runtime ----------------------------------------------------------------------------------
def in_process(pipeline: Pipeline, topology: Topology, lines: list[str], tmp: Path, store: bool) -> Figure:
    sys.path.insert(0, str(ROOT / "bench"))
    from local_throughput import framework  # type: ignore[import-not-found]

    run = framework(
        pipeline,
        topology,
        lines,
        tmp / f"local-{uuid.uuid4().hex[:6]}",
        "process" if store else "memory",
        20_000,
    )
    return Figure(
        f"in-process, {'chdb audit' if store else 'rows in memory'}",
        len(lines),
        run.seconds,
        (run.cpu_self + run.cpu_writer) / len(lines) * 1e6,
    )


# -- the worker ---------------------------------------------------------------------------------------------
class GroupBacklog:
    """A pre-produced backlog that several workers find only once their group has formed.

    Workers started together still join the group a few hundred ms apart (each start takes seconds); the
    first one alone takes every partition and drains a 5,000-event backlog in about a second, before the
    second one's join moves half of them away. A row measured from the first output to the last then
    measures that join, not two workers. So: the backlog's records are read back and the group's offsets
    set past them (before any worker runs, while the group is empty), and once every worker holds an
    input partition the same bytes (keys, values, headers, partitions) are produced again in one flush,
    with librdkafka (some 100,000 records/s here): the workers find a backlog, as one worker does.
    """

    def __init__(self, broker: str, topic: str, group: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.broker, self.topic, self.group = broker, topic, group
        self.admin: Any = None
        reader = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
        try:
            ends = {
                p: reader.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in range(PARTITIONS)
            }
            reader.assign([TopicPartition(topic, p, 0) for p in ends])
            self.records: list[tuple[int, Any, Any, Any]] = []
            seen = dict.fromkeys(ends, 0)
            deadline = time.monotonic() + 60
            while any(seen[p] < ends[p] for p in ends) and time.monotonic() < deadline:
                for msg in reader.consume(1000, 0.5):
                    if msg.error() is None:
                        self.records.append((msg.partition(), msg.key(), msg.value(), msg.headers()))
                        seen[msg.partition()] = msg.offset() + 1
            reader.commit(offsets=[TopicPartition(topic, p, o) for p, o in ends.items()], asynchronous=False)
        finally:
            reader.close()

    def shared(self, workers: int) -> bool:
        """Every one of ``workers`` members of the (stable) group holds a partition of the topic."""
        from confluent_kafka.admin import AdminClient

        if self.admin is None:
            self.admin = AdminClient({"bootstrap.servers": self.broker})
        try:
            description = self.admin.describe_consumer_groups([self.group])[self.group].result(10)
        except Exception:  # the group does not exist yet
            return False
        holders = [
            m
            for m in description.members
            if any(tp.topic == self.topic for tp in m.assignment.topic_partitions)
        ]
        return str(description.state).endswith("STABLE") and len(holders) == workers

    def release_when_shared(self, workers: int, timeout_s: float, alive: Callable[[], bool]) -> None:
        from confluent_kafka import Producer

        deadline = time.monotonic() + timeout_s
        while not self.shared(workers):
            if time.monotonic() > deadline or not alive():
                raise RuntimeError(f"{workers} workers did not share {self.topic} within {timeout_s:.0f} s")
            time.sleep(0.2)
        producer = Producer({"bootstrap.servers": self.broker, "linger.ms": 5, "acks": "all"})
        for partition, key, value, headers in self.records:
            producer.produce(self.topic, value, key, partition=partition, headers=headers)
            producer.poll(0)
        producer.flush(60)


def worker_name(guarantee: str, audit: bool, fuse: bool, workers: int, max_batch: int = 500) -> str:
    layout = "fused" if fuse else "per-step"
    sink = "audit sink" if audit else "no audit sink"
    more = (f", {workers} workers" if workers > 1 else "") + (", unbatched" if max_batch == 1 else "")
    return f"worker {layout}, {guarantee}, {sink}{more}"


def worker_backlog(
    broker: str,
    lines: list[str],
    guarantee: str,
    audit: bool,
    fuse: bool,
    workers: int,
    tmp: Path,
    max_batch: int = 500,
) -> Figure:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    with own_topics(broker, prefix):  # deleted at the end, the row failed or not
        pipeline = load_pipeline(CLAIMS_SPEC)
        topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
        asyncio.run(produce_lines(pipeline, topology, broker, lines, partitions=PARTITIONS))  # the backlog
        group = f"{prefix}-{pipeline.workflow.name}"
        # several workers: the backlog is held back until the group has formed (see GroupBacklog)
        held = GroupBacklog(broker, topology.topic("in"), group) if workers > 1 else None
        entry = pipeline.entry_node.emit
        first_hop = [] if fuse or entry is None else [topology.topic(entry.boundary)]
        outputs = Outputs(broker, terminal_topics(pipeline, topology), starts=first_hop)
        before = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # what produce itself sent to rejected/dlq (ingest verdicts)
            outputs.poll(0.2)
            before = outputs.count
        outputs.restart_clock()
        audit_dsn = (
            f"clickhouse://{os.environ['DWF_BENCH_CLICKHOUSE']}"
            if audit and "DWF_BENCH_CLICKHOUSE" in os.environ
            else None
        )
        audit_arg = (audit_dsn or f"chdb://{tmp / prefix}") if audit else None
        extra = ([] if fuse else ["--per-step-topics"]) + ["--max-batch", str(max_batch)]
        procs = []
        logs = [tmp / f"{prefix}-{i}.log" for i in range(workers)]
        for i in range(workers):
            # each worker its own chdb directory (embedded chdb: one process per directory)
            dsn = f"{audit_arg}-{i}" if audit_arg and audit_arg.startswith("chdb://") else audit_arg
            procs.append(
                start_worker(
                    tmp,
                    broker,
                    prefix,
                    guarantee,
                    audit=dsn,
                    partitions=PARTITIONS,
                    extra=extra,
                    log_name=logs[i].name,
                )
            )
        samples: list[tuple[float, float]] = []  # (wall clock, the workers' CPU seconds), every poll

        def cpu() -> float:
            return sum(cpu_seconds(p, log) for p, log in zip(procs, logs, strict=True))

        def alive() -> bool:
            if any(p.poll() is not None for p in procs):
                return False
            samples.append((time.time(), cpu()))
            return True

        try:
            if held is not None:
                held.release_when_shared(workers, 120, alive)
            outputs.wait_start(120, alive)
            outputs.wait(len(lines), 600, alive)
            cpu_end = cpu()  # ProgramExited (with the log's end) if a worker stopped early
        finally:
            for p in procs:
                stop_worker(p)
            outputs.close()
        n = outputs.count - before
        # span and CPU from the first output's send to the last's (outputs' timestamps, see Outputs)
        cpu0 = max(
            (c for t, c in samples if t <= outputs.first_ts), default=samples[0][1] if samples else 0.0
        )
        return Figure(
            worker_name(guarantee, audit, fuse, workers, max_batch),
            n,
            outputs.last_ts - outputs.first_ts,
            (cpu_end - cpu0) / max(1, n) * 1e6,
        )


def worker_latency(broker: str, lines: list[str], rate: float, tmp: Path) -> Figure:
    prefix = f"l{uuid.uuid4().hex[:6]}"
    with own_topics(broker, prefix):  # deleted at the end, the row failed or not
        pipeline = load_pipeline(CLAIMS_SPEC)
        topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
        asyncio.run(produce_lines(pipeline, topology, broker, lines[:1], partitions=PARTITIONS))  # topics
        outputs = Outputs(broker, [topology.topic(b) for b in pipeline.terminals], keep=latency_of(topology))
        proc = start_worker(tmp, broker, prefix, partitions=PARTITIONS, log_name=f"{prefix}.log")
        kept = under_load(
            outputs,
            proc,
            stop_worker,
            lambda: steady_load(pipeline, topology, broker, lines[1:], rate, outputs),
        )
        return Figure("worker fused, at_least_once, no audit sink", len(kept), latencies_ms=kept)


def under_load(
    outputs: Outputs, proc: subprocess.Popen[bytes], stop_it: Callable[[Any], Any], load: Callable[[], None]
) -> list[float]:
    """Once the consumer is up (its first output), the latencies of what it outputs under ``load``."""
    try:
        outputs.wait(1, 120, lambda: proc.poll() is None)
        outputs.kept.clear()
        load()
    finally:
        stop_it(proc)
        outputs.close()
    return outputs.kept


def latency_of(topology: Topology) -> Callable[[Any], float]:
    """ms from an event's admission (its envelope's produced_at) to its output's broker timestamp."""
    serde = EnvelopeSerde(topology.registry)
    return lambda m: float(m.timestamp()[1] - serde.decode(m.value())[1].produced_at / 1000)


def steady_load(
    pipeline: Pipeline, topology: Topology, broker: str, lines: list[str], rate: float, outputs: Outputs
) -> None:
    """Produce at a steady rate while a thread reads the outputs, then read until they stop coming."""
    watching = [True]

    def watch() -> None:
        while watching[0]:
            outputs.poll(0.05)

    async def feed() -> None:
        task = asyncio.get_running_loop().run_in_executor(None, watch)
        try:
            await produce_lines(pipeline, topology, broker, lines, partitions=PARTITIONS, rate=rate)
        finally:
            watching[0] = False
            await task

    asyncio.run(feed())
    outputs.settle()


# -- raw programs and the Quix application, each in its own process ------------------------------------------
def program(kind: str, broker: str, args: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--program",
        kind,
        "--broker",
        broker,
        "--args",
        json.dumps(args),
    ]
    return subprocess.Popen(
        cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def raw_backlog(broker: str, lines: list[str], client: str, audit_bytes: int, tmp: Path) -> Figure:
    """The same messages as the fused worker, moved by a bare client: per event one output of the
    input's size, per batch and partition one audit message of the events' audit bytes."""
    prefix = f"r{uuid.uuid4().hex[:6]}"
    with own_topics(broker, prefix):  # deleted at the end, the row failed or not
        pipeline = load_pipeline(CLAIMS_SPEC)
        topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
        asyncio.run(produce_lines(pipeline, topology, broker, lines, partitions=PARTITIONS))
        in_topic, out_topic, audit_topic = topology.topic("in"), f"{prefix}.raw.out", f"{prefix}.raw.audit"
        asyncio.run(ensure_topics(broker, [out_topic, audit_topic], PARTITIONS, 1))
        accepted = asyncio.run(_count(broker, [in_topic]))
        outputs = Outputs(broker, [out_topic])
        args = {"in": in_topic, "out": out_topic, "audit": audit_topic, "audit_bytes": audit_bytes}
        log = tmp / f"{prefix}.log"
        proc = program(f"raw-{client}", broker, args, log)
        try:
            start = outputs.wait_start(60, lambda: proc.poll() is None)
            cpu0 = cpu_seconds(proc, log)
            outputs.wait(accepted, 300, lambda: proc.poll() is None)
            cpu = cpu_seconds(proc, log) - cpu0
        finally:
            stop(proc)
            outputs.close()
        return Figure(
            f"raw {client} (same messages)",
            outputs.count,
            outputs.last_at - start,
            cpu / max(1, outputs.count) * 1e6,
        )


def raw_latency(broker: str, lines: list[str], rate: float, audit_bytes: int, tmp: Path) -> Figure:
    prefix = f"s{uuid.uuid4().hex[:6]}"
    with own_topics(broker, prefix):  # deleted at the end, the row failed or not
        pipeline = load_pipeline(CLAIMS_SPEC)
        topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
        asyncio.run(produce_lines(pipeline, topology, broker, lines[:1], partitions=PARTITIONS))
        out_topic, audit_topic = f"{prefix}.raw.out", f"{prefix}.raw.audit"
        asyncio.run(ensure_topics(broker, [out_topic, audit_topic], PARTITIONS, 1))
        outputs = Outputs(broker, [out_topic], keep=latency_of(topology))
        args = {
            "in": topology.topic("in"),
            "out": out_topic,
            "audit": audit_topic,
            "audit_bytes": audit_bytes,
        }
        proc = program("raw-aiokafka", broker, args, tmp / f"{prefix}.log")
        kept = under_load(
            outputs, proc, stop, lambda: steady_load(pipeline, topology, broker, lines[1:], rate, outputs)
        )
        return Figure("raw aiokafka (same messages)", len(kept), latencies_ms=kept)


async def _count(broker: str, topics: list[str]) -> int:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=broker)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


def quix_backlog(broker: str, lines: list[str], hops: int, tmp: Path) -> Figure:
    prefix = f"q{uuid.uuid4().hex[:6]}"
    with own_topics(broker, prefix):  # deleted at the end, the row failed or not
        topics = [f"{prefix}.quix.in", *[f"{prefix}.quix.{h}" for h in QUIX_HOPS[: hops - 1]]]
        out, rejected = f"{prefix}.quix.out", f"{prefix}.quix.rejected"
        asyncio.run(ensure_topics(broker, [*topics, out, rejected], PARTITIONS, 1))
        asyncio.run(_produce_raw(broker, topics[0], lines))
        outputs = Outputs(broker, [out, rejected], starts=topics[1:2])
        args = {"topics": topics, "out": out, "rejected": rejected, "group": prefix}
        log = tmp / f"{prefix}.log"
        proc = program("quix", broker, args, log)
        try:
            start = outputs.wait_start(120, lambda: proc.poll() is None)
            cpu0 = cpu_seconds(proc, log)
            outputs.wait(len(lines), 300, lambda: proc.poll() is None)
            cpu = cpu_seconds(proc, log) - cpu0
        finally:
            stop(proc)
            outputs.close()
        name = "quix, fused (1 hop)" if hops == 1 else f"quix, {hops} hops"
        return Figure(name, outputs.count, outputs.last_at - start, cpu / max(1, outputs.count) * 1e6)


async def _produce_raw(broker: str, topic: str, lines: list[str]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5, partitioner=PARTITIONER)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, line.encode(), key=str(i).encode()) for i, line in enumerate(lines)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def audit_sizes(total: int) -> list[int]:
    """The worker's audit messages for ``total`` bytes of rows: cut at AUDIT_MESSAGE_BYTES (commit.py)."""
    sizes = [AUDIT_MESSAGE_BYTES] * (total // AUDIT_MESSAGE_BYTES)
    return [*sizes, total % AUDIT_MESSAGE_BYTES] if total % AUDIT_MESSAGE_BYTES else sizes


# -- the programs themselves ---------------------------------------------------------------------------------
def run_program(kind: str, broker: str, args: dict[str, Any]) -> None:
    if kind == "raw-aiokafka":
        asyncio.run(_raw_aiokafka(broker, args))
    elif kind == "raw-confluent":
        _raw_confluent(broker, args)
    elif kind == "quix":
        _quix(broker, args)
    else:
        raise SystemExit(f"unknown program {kind}")


async def _raw_aiokafka(broker: str, a: dict[str, Any]) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    consumer = AIOKafkaConsumer(
        a["in"],
        bootstrap_servers=broker,
        group_id=a["in"] + "-raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        partitioner=PARTITIONER,  # the worker's (partitioner.py), not aiokafka's pure-Python murmur2
    )
    await consumer.start()
    await producer.start()
    pending: list[Any] = []
    last_commit = time.monotonic()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            for tp, records in batches.items():
                key = f"{tp.topic}:{tp.partition}".encode()
                for size in audit_sizes(a["audit_bytes"] * len(records)):
                    pending.append(await producer.send(a["audit"], b"a" * size, key=key))
                for r in records:
                    pending.append(await producer.send(a["out"], r.value, key=r.key))
            if time.monotonic() - last_commit >= 1.0:
                await asyncio.gather(*pending)
                pending.clear()
                await consumer.commit()
                last_commit = time.monotonic()
    finally:
        await producer.stop()
        await consumer.stop()


def _raw_confluent(broker: str, a: dict[str, Any]) -> None:
    from confluent_kafka import Consumer, Producer

    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": a["in"] + "-raw",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
    consumer.subscribe([a["in"]])
    last_commit = time.monotonic()
    while not stopping[0]:
        msgs = consumer.consume(500, 0.1)
        by_partition: dict[int, int] = {}
        for m in msgs:
            if m.error() is not None:
                continue
            by_partition[m.partition()] = by_partition.get(m.partition(), 0) + 1
            producer.produce(a["out"], m.value(), m.key())
        for p, n in by_partition.items():
            for size in audit_sizes(a["audit_bytes"] * n):
                producer.produce(a["audit"], b"a" * size, f"{a['in']}:{p}".encode())
        producer.poll(0)
        if time.monotonic() - last_commit >= 1.0:
            producer.flush()
            consumer.commit(asynchronous=False)
            last_commit = time.monotonic()
    producer.flush()
    consumer.close()


def _quix(broker: str, a: dict[str, Any]) -> None:
    """The claims workflow's logic by hand (docs/examples/claims/claims.yaml), JSON in and out."""
    import logging

    from quixstreams import Application

    app = Application(
        broker_address=broker,
        consumer_group=a["group"],
        auto_offset_reset="earliest",
        loglevel=logging.WARNING,
        commit_interval=1.0,
    )
    # the input as bytes: some claims lines are not JSON (the example's dlq cases), parsed by the first stage
    topics = [
        app.topic(t, value_deserializer="bytes" if i == 0 else "json") for i, t in enumerate(a["topics"])
    ]
    out, rejected = app.topic(a["out"]), app.topic(a["rejected"])
    stages = [_normalize, _check, _route, _objective]
    hops = len(topics)
    per_hop = [stages] if hops == 1 else [[s] for s in stages]

    def chain(first: bool, fns: list[Callable[[dict[str, Any]], dict[str, Any]]]) -> Callable[[Any], Any]:
        def run(value: Any) -> dict[str, Any]:
            if first:
                try:
                    value = json.loads(value)
                    if not isinstance(value, dict):
                        raise ValueError("not an object")
                except ValueError as exc:
                    return {"rejected": [f"not a JSON object: {exc}"]}
            for fn in fns:
                if value.get("rejected"):
                    break
                try:
                    value = fn(value)
                except (TypeError, ValueError, KeyError) as exc:  # a field of the wrong type
                    value["rejected"] = [f"{fn.__name__}: {exc}"]
            return value

        return run

    for i, topic in enumerate(topics):
        sdf = app.dataframe(topic).apply(chain(i == 0, per_hop[i]))
        if i + 1 < hops:
            sdf.to_topic(topics[i + 1])
        else:
            sdf.to_topic(lambda value, key, ts, headers: rejected if value.get("rejected") else out)
    app.run()


def _normalize(v: dict[str, Any]) -> dict[str, Any]:
    currency = str(v.get("currency") or "").strip().upper()
    amount = float(v.get("amount") or 0.0)
    v["currency"] = currency
    v["amount_usd"] = amount * 1.1 if currency == "EUR" else amount * 1.25 if currency == "GBP" else amount
    return v


def _check(v: dict[str, Any]) -> dict[str, Any]:
    failed = [
        rule
        for rule, ok in (
            ("positive_amount", float(v.get("amount") or 0.0) > 0.0),
            ("known_currency", v["currency"] in ("USD", "EUR", "GBP")),
            ("has_policy", len(str(v.get("policy_id") or "")) > 0),
        )
        if not ok
    ]
    v["warnings"] = [] if len(str(v.get("description") or "")) > 0 else ["has_description"]
    if failed:
        v["rejected"] = failed
    return v


def _route(v: dict[str, Any]) -> dict[str, Any]:
    v["route"] = "auto_pay" if v["amount_usd"] < 1000.0 else "review"
    return v


def _objective(v: dict[str, Any]) -> dict[str, Any]:
    if v["route"] == "auto_pay" and v["amount_usd"] > float(v.get("policy_limit") or 0.0):
        v["rejected"] = ["within_limit"]
    return v


# -- the run -------------------------------------------------------------------------------------------------
ROWS = ("local", "audit", "eos", "perstep", "batch1", "two", "raw", "confluent", "quix", "latency")


def measure(broker: str, n: int, skip: set[str], tmp: Path, rate: float, seconds: float) -> list[Figure]:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix="x")
    lines = claims_lines(n, seed=99)
    figures: list[Figure] = []

    def add(figure: Figure) -> None:
        figures.append(figure)
        print(
            f"  {figure.name}: {figure.events} events, {figure.rate:,.0f}/s, "
            f"{figure.cpu_us:,.0f} us cpu/event",
            flush=True,
        )

    if "local" not in skip:
        add(in_process(pipeline, topology, lines, tmp, store=True))
        add(in_process(pipeline, topology, lines, tmp, store=False))
    add(worker_backlog(broker, lines, "at_least_once", False, True, 1, tmp))
    if "audit" not in skip:
        add(worker_backlog(broker, lines, "at_least_once", True, True, 1, tmp))
    if "eos" not in skip:
        add(worker_backlog(broker, lines, "exactly_once", False, True, 1, tmp))
    if "perstep" not in skip:
        add(worker_backlog(broker, lines, "at_least_once", False, False, 1, tmp))
    if "batch1" not in skip:
        add(worker_backlog(broker, lines, "at_least_once", False, True, 1, tmp, max_batch=1))
    if "two" not in skip:
        add(worker_backlog(broker, lines, "at_least_once", False, True, 2, tmp))
    audit_bytes = audit_bytes_per_event(pipeline, topology, lines[:500])
    if "raw" not in skip:
        add(raw_backlog(broker, lines, "aiokafka", audit_bytes, tmp))
    if "confluent" not in skip:
        add(raw_backlog(broker, lines, "confluent", audit_bytes, tmp))
    if "quix" not in skip:
        add(quix_backlog(broker, lines, 1, tmp))
        add(quix_backlog(broker, lines, len(QUIX_HOPS), tmp))
    if "latency" not in skip:
        steady = claims_lines(int(rate * seconds) + 1, seed=7)
        for figure in (
            worker_latency(broker, steady, rate, tmp),
            raw_latency(broker, steady, rate, audit_bytes, tmp),
        ):
            figure.name = f"latency at {rate:.0f}/s: {figure.name}"
            figures.append(figure)
            print(
                f"  {figure.name}: p50 {pct(figure.latencies_ms, 50):.1f} ms, "
                f"p99 {pct(figure.latencies_ms, 99):.1f} ms",
                flush=True,
            )
    return figures


def report(runs: list[list[Figure]], n: int) -> None:
    names = [f.name for f in runs[0]]
    rates = {name: statistics.median(f.rate for run in runs for f in run if f.name == name) for name in names}
    cpus = {
        name: statistics.median(f.cpu_us for run in runs for f in run if f.name == name) for name in names
    }
    lat = {name: [x for run in runs for f in run if f.name == name for x in f.latencies_ms] for name in names}
    print(f"\n{n} claims, {PARTITIONS} partitions, median of {len(runs)} run(s)")
    print(f"{'throughput on a pre-produced backlog':58}{'events/s':>10}{'cpu us/ev':>11}")
    for name in names:
        if not lat[name]:
            print(f"{name:58}{rates[name]:>10,.0f}{cpus[name]:>11,.0f}")
    for name in names:
        if lat[name]:
            print(
                f"{name:58} p50 {pct(lat[name], 50):8.1f} ms  p99 {pct(lat[name], 99):8.1f} ms  "
                f"({len(lat[name])} events)"
            )

    def ratio(label: str, a: str, b: str, target: str) -> None:
        if a in rates and b in rates and rates[b]:
            print(f"{label:58}{rates[a] / rates[b]:>9.2f}x  (target {target})")

    alo, audit = worker_name("at_least_once", False, True, 1), worker_name("at_least_once", True, True, 1)
    print()
    ratio("audit sink on / in-process (chdb audit)", audit, "in-process, chdb audit", ">= 0.8")
    ratio("audit sink off / quix fused", alo, "quix, fused (1 hop)", ">= 1")
    ratio(
        "exactly-once / at-least-once (no audit sink)",
        worker_name("exactly_once", False, True, 1),
        alo,
        ">= 0.9",
    )
    ratio("fused / per-step layout", alo, worker_name("at_least_once", False, False, 1), "the gain of fusion")
    ratio(
        "batched / one record at a time", alo, worker_name("at_least_once", False, True, 1, 1), "batch gain"
    )
    ratio("2 workers / 1 worker", worker_name("at_least_once", False, True, 2), alo, "scale")
    ratio("worker / raw aiokafka (same messages)", alo, "raw aiokafka (same messages)", "")
    ratio(
        "raw confluent / raw aiokafka",
        "raw confluent (same messages)",
        "raw aiokafka (same messages)",
        "client",
    )
    wl = [v for k, v in lat.items() if "worker" in k]
    rl = [v for k, v in lat.items() if "raw" in k]
    if wl and rl and wl[0] and rl[0]:
        print(
            f"{'p50 latency, worker / raw aiokafka':58}"
            f"{pct(wl[0], 50) / pct(rl[0], 50):>9.2f}x  (target <= 2)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--broker", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--latency-rate", type=float, default=100.0, help="events/s of the steady load")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--skip", default="", help=f"comma-separated rows to leave out: {','.join(ROWS)}")
    ap.add_argument("--program", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.program:
        run_program(a.program, a.broker, json.loads(a.args))
        return
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    try:
        import quixstreams  # noqa: F401
    except ImportError:
        print("quixstreams is not installed (pip install quixstreams): no quix rows")
        skip.add("quix")
    tmp = Path(tempfile.mkdtemp(prefix="dwf-kbench-"))
    print(f"logs of the measured programs in {tmp} (removed at the end unless a row fails)", flush=True)
    started_broker = None
    if not a.broker:
        from dana_workflows.devservices.kafka import broker

        started_broker = tmp / "kafka"
        info = broker.up(broker.free_port(), broker.free_port(), data_dir=started_broker, wait_s=90)
        a.broker = info.bootstrap
    failed = True
    try:
        runs = []
        for i in range(a.repeat):
            print(f"run {i + 1}/{a.repeat}", flush=True)
            runs.append(measure(a.broker, a.events, skip, tmp, a.latency_rate, a.latency_seconds))
        failed = False
    finally:
        if started_broker is not None:
            from dana_workflows.devservices.kafka import broker

            broker.down(started_broker)
        print(clean_up(tmp, failed), file=sys.stderr if failed else sys.stdout, flush=True)
    report(runs, a.events)


def clean_up(tmp: Path, failed: bool) -> str:
    """Remove the bench's temp dir (logs, schemas, chdb audit dirs) after a run whose rows all ended; keep
    it after a failed row, whose programs' logs say why. What was done, as a line to print."""
    if failed:
        return f"a row failed: its programs' logs are kept in {tmp}"
    shutil.rmtree(tmp, ignore_errors=True)
    return f"removed {tmp}"


if __name__ == "__main__":
    main()
