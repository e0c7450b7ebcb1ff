"""`dana-wf dlq list --broker` on a dead-letter topic that holds poison records (bytes a worker could not
read, dead-lettered as they came with a `dwf-error` header): they are not envelopes, so they are neither
listed nor replayable, and the listing says how many there are and why the first one was refused, instead
of "no dead-lettered events" alone (newcomer review F28). A real broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dana_workflows.core.settings import load_settings
from dana_workflows.processors.pipeline import DLQ, compile_pipeline
from dana_workflows.streams.app_builder import topology_for
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.options import all_topics
from dana_workflows.streams.kafka.resume_topics import PoisonRecord, read_envelopes, read_topic
from dana_workflows.streams.kafka.security import KafkaSecurity
from dana_workflows.streams.kafka.wire import source_headers
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.integration

SPEC = """\
workflow: scoring
input: {id: long, amount: double}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0"}
"""
REASONS = ("magic byte is 123 (0x7b), expected 0 (not Confluent wire format)", "record shorter than 5 bytes")


async def _dead_letter_poison(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i, (value, reason) in enumerate(((b'{"id": 1}', REASONS[0]), (b"\x00\x01", REASONS[1]))):
            headers = source_headers("poison", "in", 0, i, reason, None)
            await producer.send_and_wait(topic, value, partition=0, headers=headers)
    finally:
        await producer.stop()


def test_poison_records_are_counted_apart_and_the_listing_names_them(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "scoring.yaml").write_text(SPEC)
    settings = load_settings().model_copy(update={"topic_prefix": topic_prefix})
    topology = topology_for(compile_pipeline(parse_spec(SPEC, "scoring.yaml")), settings)
    topic = topology.topic(DLQ)
    asyncio.run(ensure_topics(kafka_bootstrap, all_topics(topology), 1, 1))
    asyncio.run(_dead_letter_poison(kafka_bootstrap, topic))

    security = KafkaSecurity()
    envelopes, poison = asyncio.run(read_topic(kafka_bootstrap, topology, topic, security))
    assert envelopes == []
    assert poison == [PoisonRecord(0, 0, REASONS[0]), PoisonRecord(0, 1, REASONS[1])]
    assert asyncio.run(read_envelopes(kafka_bootstrap, topology, topic, security)) == []

    cmd = [sys.executable, "-m", "dana_workflows.cli", "dlq", "list", "scoring.yaml"]
    cmd += ["--broker", kafka_bootstrap, "--prefix", topic_prefix, "--audit", f"chdb://{tmp_path / 'audit'}"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"no dead-lettered events in topic {topic}" in done.stdout
    assert (
        f"2 poison record(s) on {topic} too: not envelopes, so not listed and not replayable; each one's "
        f"dwf-error header says why (first: partition 0 offset 0: {REASONS[0]})"
    ) in " ".join(done.stdout.split())
