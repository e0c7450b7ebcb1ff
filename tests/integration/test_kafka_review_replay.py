"""Human review and dlq replay on Kafka: a real broker, a real ClickHouse server and worker processes.

A worker sends one event to dlq (its transform function raises on the label "odd") and one to review (the
step's ladder sends amounts above 1000 there). The function is fixed and the worker restarted, as a
deployment would; then `dana-wf dlq replay --broker` and `dana-wf review decide --broker` send both to
the workflow's resume topic, and the worker continues them. Expected, from the spec: the fixed function
scores "odd" 0.9, so the replay reaches `out`; the decision sets the score to 0.8, so that event is
approved (`out`) too. Each event's chain verifies, with exactly one outcome after its replay/override,
and a second replay or decision is refused. Under both processing guarantees: the resume agent commits
through the same sections as the step agents.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.pipeline import DLQ, OUT, REVIEW
from dana_workflows.processors.resume import RESUME_MARK
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology
from tests.fixtures.clickhouse import server_audit_rows
from tests.fixtures.review_workflow import BROKEN, EVENTS, FIXED, SPEC
from tests.integration.kafka_support import decode_decisions, read_topic, stop_worker, worker_env

pytestmark = pytest.mark.integration


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = worker_env(tmp)
    env["PYTHONPATH"] = str(tmp / "fn") + os.pathsep + env["PYTHONPATH"]
    cmd = [sys.executable, "-m", "dana_workflows.cli", *args]
    return subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=180)


def start(
    tmp: Path, bootstrap: str, prefix: str, dsn: str, name: str, guarantee: str
) -> subprocess.Popen[bytes]:
    env = worker_env(tmp)
    env["PYTHONPATH"] = str(tmp / "fn") + os.pathsep + env["PYTHONPATH"]
    cmd = [sys.executable, "-m", "dana_workflows.cli", "worker", "scoring.yaml", "--broker", bootstrap]
    cmd += ["--prefix", prefix, "--partitions", "2", "--session-timeout", "6", "--commit-interval", "0.5"]
    cmd += ["--audit", dsn, "--guarantee", guarantee]
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)


async def outcomes(bootstrap: str, topology: Topology) -> dict[str, set[str]]:
    """Boundary -> the input ids of the events on its topic."""
    got: dict[str, set[str]] = {}
    for boundary in (OUT, "hold", DLQ, REVIEW):
        records = await read_topic(bootstrap, topology.topic(boundary))
        if boundary == REVIEW:  # mixed schemas, like dlq (decode_decisions knows rejected and dlq)
            codec = WireCodec(topology.registry)
            got[boundary] = {codec.decode_mixed(r.value).payload["id"] for r in records}
            continue
        got[boundary] = {
            json.loads(d)["payload"]["id"] for d in decode_decisions(topology, boundary, records)
        }
    return got


async def until(predicate_s: str, check: object, timeout_s: float, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():  # type: ignore[operator]
            return
        assert worker.poll() is None, f"the worker exited while waiting for {predicate_s}"
        assert time.monotonic() < deadline, f"never happened: {predicate_s}"
        await asyncio.sleep(1.0)


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_replay_and_decision_continue_on_the_worker(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    clickhouse_database: ClickHouseServerConfig,
    guarantee: str,
) -> None:
    db = clickhouse_database
    dsn = f"clickhouse://{db.user}@{db.host}:{db.port}/{db.database}"
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "scorer.py").write_text(BROKEN)
    (tmp_path / "scoring.yaml").write_text(SPEC)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    sys.path.insert(0, str(tmp_path / "fn"))
    try:
        pipeline = load_pipeline(tmp_path / "scoring.yaml")
    finally:
        sys.path.pop(0)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    produced = cli(
        tmp_path, "produce", "scoring.yaml", "--input", "events.jsonl",
        "--broker", kafka_bootstrap, "--prefix", topic_prefix, "--partitions", "2", "--quiet",
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr

    def stored_kinds() -> set[str]:
        try:
            return {r.kind for r in server_audit_rows(db.port, db.database)}
        except Exception:  # the table is not there yet
            return set()

    worker = start(tmp_path, kafka_bootstrap, topic_prefix, dsn, "first", guarantee)
    try:

        async def first_pass() -> bool:
            got = await outcomes(kafka_bootstrap, topology)
            return got[DLQ] == {"b"} and got[REVIEW] == {"d"} and {"dlq", "review"} <= stored_kinds()

        await until("the dlq and review outcomes", first_pass, 120, worker)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "first.log").read_text()[-3000:]

    (tmp_path / "fn" / "scorer.py").write_text(FIXED)  # the fix, deployed with a new worker
    rows = server_audit_rows(db.port, db.database)
    dlq_run = next(r.run_id for r in rows if r.kind == "dlq")
    review_run = next(r.run_id for r in rows if r.kind == "review")
    common = ("scoring.yaml", "--broker", kafka_bootstrap, "--prefix", topic_prefix, "--audit", dsn)
    unknown = cli(tmp_path, "review", "decide", *common, "nope", "--decision", "score=1", "--reason", "x")
    assert unknown.returncode == 2 and "no event nope" in unknown.stderr
    replay = cli(tmp_path, "dlq", "replay", *common, "--event", dlq_run)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    again = cli(tmp_path, "dlq", "replay", *common, "--event", dlq_run)  # sent, maybe not finished: refused
    assert again.returncode == 2 and "replayed already" in again.stderr
    decide = cli(tmp_path, "review", "decide", *common, review_run, "--decision", "score=0.8",
                 "--reason", "checked", "--reviewer", "alice")  # fmt: skip
    assert decide.returncode == 0, decide.stdout + decide.stderr

    # a resume record whose audit row was tampered with: the worker sends it to dlq, it runs nothing
    forged = Envelope(
        "forged/in", "forged", "scoring", 1, "score", {"id": "f", "label": "good", "amount": 1.0}
    )
    row = transition(forged.evolve(), "replayed", "score", 1, decision="replayed").as_dict()
    forged.provenance[RESUME_MARK] = {"boundary": "in", "row": {**row, "reason": "edited"}}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topology.resume_topic, WireCodec(topology.registry).encode_mixed(forged))
    finally:
        await producer.stop()

    worker = start(tmp_path, kafka_bootstrap, topic_prefix, dsn, "second", guarantee)
    try:

        async def continued() -> bool:
            got = await outcomes(kafka_bootstrap, topology)
            done = [r for r in server_audit_rows(db.port, db.database) if r.kind == "completed"]
            return (
                got[OUT] == {"a", "b", "d"} and got[DLQ] == {"b", "f"} and len({r.run_id for r in done}) == 4
            )

        await until("the replayed and decided events at out", continued, 120, worker)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "second.log").read_text()[-3000:]

    rows = server_audit_rows(db.port, db.database)
    assert verify_rows(rows).ok
    assert [(r.kind, r.step) for r in rows if r.run_id == "forged"] == [("dlq", "resume")]
    for run, first_kind in ((dlq_run, "replayed"), (review_run, "override")):
        chain = sorted({r.seq: r for r in rows if r.run_id == run}.values(), key=lambda r: r.seq)
        kinds = [r.kind for r in chain]
        after = kinds[kinds.index(first_kind) + 1 :]
        assert sum(k in ("completed", "rejected", "dlq") for k in after) == 1 and after[-1] == "completed"
    twice = cli(tmp_path, "review", "decide", *common, review_run, "--decision", "score=0.1", "--reason", "x")
    assert twice.returncode == 2 and "decided already" in twice.stderr
    listed = cli(tmp_path, "dlq", "list", *common)
    assert listed.returncode == 0 and dlq_run in listed.stdout
