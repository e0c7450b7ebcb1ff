"""`dana-wf status` on the real broker after a worker sent a poison record to the dlq (newcomer4 N4-1): the
summary names the poison records instead of saying every event received has an outcome."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    start_worker,
    stop_worker,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration


async def test_status_counts_poison_on_the_dlq_apart(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    valid = [line for line in claims_lines(40, seed=5) if '"amount": -' not in line][:2]
    await produce_lines(pipeline, topology, kafka_bootstrap, valid, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:  # a cut-off varint under the entry topic's own schema id: no schema reads it
        cut = struct.pack(">bI", 0, topology.schema_id("in")) + b"\x81"
        await producer.send_and_wait(topology.topic("in"), cut, key=b"run-p1")
    finally:
        await producer.stop()
    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, partitions=1)
    try:
        await wait_for_outcomes(
            kafka_bootstrap, topology, len(valid), 90, alive=lambda: worker.poll() is None
        )
        for _ in range(60):  # the poison record's dlq send, and the group's commit of the entry topic
            args = ["status", str(CLAIMS_SPEC), "--broker", kafka_bootstrap, "--prefix", topic_prefix]
            res = await asyncio.to_thread(CliRunner().invoke, app, args)
            out = " ".join(res.output.split())
            if "no record waits" in out:
                break
            await asyncio.sleep(1.0)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert res.exit_code == 0, res.output
    assert "every event received has an outcome" not in out
    assert out.endswith(
        f"3 events on {topic_prefix}.claims-triage.in, 3 outcomes; no record waits, but 1 record(s) on "
        f"{topic_prefix}.claims-triage.dlq are poison: bytes no worker could read, with no audit outcome "
        "and not replayable; `dana-wf dlq list --broker` lists them with why (docs/kafka-runtime.md, "
        "Poison records)"
    ), out
