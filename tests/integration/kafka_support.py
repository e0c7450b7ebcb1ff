"""Helpers for the Kafka runtime's integration tests: workers as subprocesses, reading topics and stores."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.devservices.llm_server.server import ServerThread
from dana_workflows.processors.pipeline import DLQ, REJECTED, REVIEW
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.sinks.audit_model import COLUMNS, AuditRow
from dana_workflows.streams.kafka.topic_reader import partitions, read_records
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.local.outputs import decision_record
from dana_workflows.streams.topology import Topology
from tests.fixtures.llm_server import RISK_RULES, LLMServerHandle

ROOT = Path(__file__).resolve().parents[2]
CLAIMS_SPEC = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
COMPARED = tuple(c for c in COLUMNS if c not in ("ts_us", "duration_us", "prev_hash", "hash"))


def claims_lines(count: int, seed: int) -> list[str]:
    sys.path.insert(0, str(CLAIMS_SPEC.parent))
    try:
        from generate import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    events = generate(count=count, seed=seed)
    items = events[0] if isinstance(events, tuple) else events
    return [e if isinstance(e, str) else json.dumps(e) for e in items]


def worker_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DWF_SCHEMA_REGISTRY": f"file://{tmp / 'schemas'}",
            "DWF_DATA_DIR": str(tmp / "data"),
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    return env


def start_worker(
    tmp: Path,
    bootstrap: str,
    prefix: str,
    guarantee: str = "at_least_once",
    audit: str | None = None,
    partitions: int = 2,
    extra: Sequence[str] = (),
    log_name: str = "worker.log",
    env: dict[str, str] | None = None,
    spec: Path = CLAIMS_SPEC,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "dana_workflows.cli",
        "worker",
        str(spec),
        "--broker",
        bootstrap,
        "--prefix",
        prefix,
        "--guarantee",
        guarantee,
        "--partitions",
        str(partitions),
        "--session-timeout",
        "6",
        "--commit-interval",
        "0.5",
        *extra,
    ]
    cmd += ["--audit", audit] if audit else ["--no-audit-sink"]
    log = (tmp / log_name).open("ab")
    full_env = {**worker_env(tmp), **(env or {})}
    return subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


class _HasWorker(Protocol):
    proc: subprocess.Popen[bytes]


W = TypeVar("W", bound=_HasWorker)


@contextlib.contextmanager
def worker_with_test_server(tmp: Path, make: Callable[[LLMServerHandle], W]) -> Iterator[W]:
    """The project's test server answering RISK_RULES as the primary and the fallback model, and the
    worker `make` starts against it (its log in tmp/worker.log); the worker must stop cleanly."""
    script = Script.model_validate({"models": ["dwf-test-model", "dwf-fallback-model"], "rules": RISK_RULES})
    thread = ServerThread(script).start()
    worker: W | None = None
    try:
        worker = make(LLMServerHandle(thread))
        yield worker
    finally:
        code = stop_worker(worker.proc) if worker is not None else 0
        thread.stop()
        assert code == 0, (tmp / "worker.log").read_text()[-3000:]


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    return await partitions(bootstrap, topic)


async def read_topic(bootstrap: str, topic: str, committed_only: bool = True) -> list[Any]:
    """Every record of a topic, from the beginning to the current end."""
    return await read_records(bootstrap, topic, committed_only=committed_only)


def decode_decisions(topology: Topology, boundary: str, records: list[Any]) -> list[str]:
    """Decision records (canonical JSON) of one terminal topic."""
    if topology.topics[boundary].schema is None:  # mixed: rejected, dlq, review
        codec = WireCodec(topology.registry)
        out = []
        for r in records:
            if dict(r.headers or ()).get("dwf-kind") == b"poison":
                continue
            out.append(canonical_json(decision_record(codec.decode_mixed(r.value))))
        return out
    serde = EnvelopeSerde(topology.registry)
    return [canonical_json(decision_record(serde.decode(r.value)[1])) for r in records]


async def terminal_decisions(bootstrap: str, topology: Topology) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    review = [REVIEW] if topology.pipeline.has_review else []  # a recovery ladder's review rung
    for boundary in [*topology.pipeline.terminals, REJECTED, DLQ, *review]:
        recs = await read_topic(bootstrap, topology.topic(boundary))
        out[boundary] = decode_decisions(topology, boundary, recs)
    return out


async def wait_for_outcomes(
    bootstrap: str,
    topology: Topology,
    expected: int,
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
) -> dict[str, list[str]]:
    """Poll the terminal topics until ``expected`` distinct runs reached an outcome."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = await terminal_decisions(bootstrap, topology)
        runs = {json.loads(d)["run_id"] for ds in got.values() for d in ds}
        if len(runs) >= expected or time.monotonic() > deadline or not alive():
            return got
        await asyncio.sleep(1.0)


def read_store_rows(audit_dir: Path) -> list[AuditRow]:
    """The audit rows in a chdb directory, read in a subprocess (chdb: one directory per process)."""
    code = (
        "import json,sys\n"
        "from dana_workflows.sinks.chdb_store import ChdbAuditStore\n"
        "from dana_workflows.sinks.audit_model import COLUMNS\n"
        f"s = ChdbAuditStore({str(audit_dir)!r})\n"
        "r = s.query('SELECT ' + ', '.join(COLUMNS) + ' FROM dwf.events')\n"
        "json.dump([list(x) for x in r.rows], sys.stdout)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return [AuditRow(**dict(zip(COLUMNS, row, strict=True))) for row in json.loads(done.stdout)]


def row_key(r: AuditRow) -> tuple[Any, ...]:
    return tuple(getattr(r, c) for c in COMPARED)


def rows_by_run(rows: list[AuditRow]) -> dict[str, list[tuple[Any, ...]]]:
    runs: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        runs.setdefault(r.run_id, []).append(row_key(r))
    return {k: sorted(v, key=lambda t: (t[COMPARED.index("seq")], repr(t))) for k, v in runs.items()}


def multiset(items: list[str]) -> Counter[str]:
    return Counter(items)


async def group_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in got.items()}
    finally:
        await admin.close()


async def open_transactions(bootstrap: str, topic: str) -> list[int]:
    """Partitions of ``topic`` whose last stable offset is behind their end: a transaction is open there."""
    tps = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    if not tps:
        return []
    ends: list[dict[TopicPartition, int]] = []
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation)
        await consumer.start()
        try:
            ends.append(await consumer.end_offsets(tps))
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await consumer.stop()
    stable, end = ends
    return sorted(tp.partition for tp, offset in end.items() if stable.get(tp, offset) < offset)


async def wait_consumed(
    bootstrap: str, group: str, topic: str, timeout_s: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Until the group committed past the last record of every partition of ``topic`` (stored, for audit).

    Only once no transaction is open on the topic: a read_committed reader stops at the first record of an
    open transaction (the last stable offset), so records written after it (another producer's, not
    transactional) are not seen yet, and a group committed up to that point has not consumed them. Under
    exactly-once a worker keeps a transaction open while a gap below it is healed (commit.py); a test
    that stopped its workers then lost nothing but had never waited for those records (CI, session 15)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        if await open_transactions(bootstrap, topic):
            await asyncio.sleep(0.5)
            continue
        records = await read_topic(bootstrap, topic)
        last: dict[int, int] = {}
        for r in records:
            last[r.partition] = max(last.get(r.partition, -1), r.offset)
        committed = await group_offsets(bootstrap, group)
        if all(committed.get((topic, p), -1) >= o + 1 for p, o in last.items()):
            return True
        await asyncio.sleep(1.0)
    return False


async def count_records(bootstrap: str, topics: Sequence[str]) -> int:
    """Records on the topics by their end offsets: cheap enough to poll while workers run (under
    exactly-once it counts transaction markers and aborted records too: use it to pace, not to assert)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)]
        return sum((await consumer.end_offsets(tps)).values()) if tps else 0
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def topic_listed(admin: AIOKafkaAdminClient, topic: str, timeout_s: float = 10.0) -> bool:
    """The topic shows in the metadata (create_topics returns before the broker's metadata cache has it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while topic not in await admin.list_topics():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def create_produce_consume(bootstrap: str, topic: str, value: bytes) -> list[tuple[bytes, bytes]]:
    """With the clients of this process's DWF_KAFKA_* security (client_security()): create `topic`, send
    `value` under key ``k``, read the partition back in a group and commit (the group coordinator is
    reached through the same listener); the (key, value) pairs read."""
    from dana_workflows.streams.kafka.security import client_security

    kwargs = client_security().aiokafka_kwargs()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kwargs)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert await topic_listed(admin, topic)
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **kwargs)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k", partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"{topic}.g", enable_auto_commit=False, **kwargs
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        batches = await consumer.getmany(tp, timeout_ms=10_000)
        await consumer.commit()
    finally:
        await consumer.stop()
    return [(r.key, r.value) for r in batches.get(tp, [])]


async def outcomes_then_stop(
    worker: subprocess.Popen[bytes],
    log: Path,
    bootstrap: str,
    topology: Topology,
    events: int,
    group: str,
    timeout_s: float = 180,
) -> dict[str, list[str]]:
    """Wait (bounded) until `events` runs reached an outcome and the group consumed the audit topic to its
    end, stop the worker with SIGTERM and check it exited cleanly; the terminal decisions by boundary."""
    alive = lambda: worker.poll() is None  # noqa: E731
    try:
        got = await wait_for_outcomes(bootstrap, topology, events, timeout_s, alive=alive)
        assert await wait_consumed(bootstrap, group, topology.audit_topic, 90, alive)
    finally:
        code = stop_worker(worker)
    assert code == 0, log.read_text()[-3000:]
    return got
