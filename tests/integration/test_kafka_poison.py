"""Poison input: bytes that are not Avro, and a wire-format record with an unknown schema id, land in
`dlq` untouched with the reason and source headers; the agent keeps consuming (a valid event after them
still reaches its outcome)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import header_map
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    read_topic,
    start_worker,
    stop_worker,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("layout", ["fused", "per-step"])
async def test_poison_records_go_to_dlq_and_the_agent_keeps_consuming(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, layout: str
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    valid = [line for line in claims_lines(40, seed=5) if '"amount": -' not in line][:3]
    # the first valid event creates the topics; then poison into a step's input topic, then more valid ones
    await produce_lines(pipeline, topology, kafka_bootstrap, valid[:1], partitions=1)
    # fused, the input topic is the one a step agent consumes; per step, also a middle step's input
    boundary = "in" if layout == "fused" else "normalize"  # normalize: the input of check_claim
    target = topology.topic(boundary)
    not_avro = struct.pack(">bI", 0, topology.schema_id(boundary)) + b"\x81"  # a cut-off varint
    plain = b"hello, not the wire format"
    unknown_id = struct.pack(">bI", 0, 123456789) + b"\x02\x04"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(target, not_avro, key=b"p1")
        await producer.send_and_wait(target, unknown_id, key=b"p2")
        await producer.send_and_wait(target, b"", key=b"p3")
        await producer.send_and_wait(target, plain, key=b"p4")
    finally:
        await producer.stop()
    await produce_lines(pipeline, topology, kafka_bootstrap, valid[1:], partitions=1)

    extra = ["--per-step-topics"] if layout == "per-step" else []
    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, partitions=1, extra=extra)
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(valid), 90, alive=lambda: worker.poll() is None
        )
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert sum(len(v) for v in got.values()) == len(valid)  # every valid event got through

    poison = [
        r
        for r in await read_topic(kafka_bootstrap, topology.topic("dlq"))
        if header_map(r.headers).get("dwf-kind") == "poison"
    ]
    by_raw = {r.value: header_map(r.headers) for r in poison}
    assert set(by_raw) == {not_avro, unknown_id, b"", plain}
    for _raw, h in by_raw.items():
        assert h["dwf-source-topic"] == target
        assert h["dwf-source-partition"] == "0"
        assert int(h["dwf-source-offset"]) >= 0
        assert h["dwf-error"]
    assert "not valid Avro" in by_raw[not_avro]["dwf-error"]
    assert (
        "123456789" in by_raw[unknown_id]["dwf-error"] and by_raw[unknown_id]["dwf-schema-id"] == "123456789"
    )
    assert "too short" in by_raw[b""]["dwf-error"]
    assert "magic byte" in by_raw[plain]["dwf-error"]
    assert len({h["dwf-source-offset"] for h in by_raw.values()}) == 4
