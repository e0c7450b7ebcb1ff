"""Registry mode on the real broker: a worker's topics read with nothing but confluent-kafka's client.

The registry is confluent-kafka's in-memory one (``mock://``, the library's own test double: no
Confluent-compatible registry server installs from the package registries here, docs/kafka.md). It lives in
one process, so the worker, our producer, a foreign team's AvroSerializer producer and a confluent-kafka
consumer with AvroDeserializer run in one script, each with its own client to the broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.kafka_support import CLAIMS_SPEC, ROOT, claims_lines

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time, uuid
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from dana_workflows.core.settings import load_settings
    from dana_workflows.schemas.confluent_registry import new_client
    from dana_workflows.streams.app_builder import load_pipeline, topology_for
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime
    from dana_workflows.streams.kafka.producer import produce_lines
    from dana_workflows.streams.kafka.wire import header_map
    from dana_workflows.streams.kafka.worker import serve

    spec, bootstrap, prefix, data_dir, lines_file = sys.argv[1:6]
    URL = "mock://shared-" + prefix

    def foreign_record(i):
        # another team's envelope: its payload lacks the optional `channel` and carries `intake_system`
        payload = {"claim_id": f"F-{i}", "policy_id": "P-9", "policy_limit": 5000.0, "amount": 100.0 + i,
                   "currency": "USD", "description": "water damage", "submitted_at": 1_700_000_000 + i,
                   "intake_system": "legacy-intake"}
        return {
            "event_id": f"foreign-{i}", "run_id": f"foreign-run-{i}", "workflow": "claims-triage",
            "workflow_version": 3, "step": "in", "attempt": 0, "produced_at": 1_700_000_000_000_000 + i,
            "payload": payload, "provenance": {}, "chain_seq": 0, "chain_hash": "0" * 64,
        }

    def foreign_schema(topology, doc):
        schema = json.loads(json.dumps(topology.topics["in"].schema))
        schema["doc"] = doc
        payload = next(f for f in schema["fields"] if f["name"] == "payload")["type"]
        payload["fields"] = [f for f in payload["fields"] if f["name"] != "channel"]
        payload["fields"].append({"name": "intake_system", "type": "string"})
        return schema

    def consume(topics, want, seconds):
        client = new_client({"url": URL})  # the consumer knows nothing but the registry
        deserialize = AvroDeserializer(client)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + uuid.uuid4().hex,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(topics)
        got = []
        deadline = time.monotonic() + seconds
        try:
            while len(got) < want and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                value = msg.value()
                headers = header_map(msg.headers())
                ctx = SerializationContext(msg.topic(), MessageField.VALUE)
                typed = value[:1] == b"\\x00" and msg.topic().endswith(".out")
                decoded = deserialize(value, ctx) if typed else None
                got.append({"topic": msg.topic(), "id": int.from_bytes(value[1:5], "big"), "value": decoded,
                            "error": headers.get("dwf-error")})
        finally:
            consumer.close()
        return got

    async def main():
        settings = load_settings(schema_registry=URL, topic_prefix=prefix, data_dir=data_dir, metrics_port=0)
        pipeline = load_pipeline(spec)
        topology = topology_for(pipeline, settings)
        registry = topology.registry
        options = KafkaOptions.from_settings(settings, bootstrap=bootstrap, partitions=1, prefix=prefix)
        runtime = KafkaRuntime(pipeline, topology, options, None)
        stop = asyncio.Event()
        worker = asyncio.create_task(serve(runtime, stop))
        try:
            print(json.dumps(await scenario(topology, registry), default=str))
        finally:
            stop.set()
            print(json.dumps({"code": await worker}))

    async def scenario(topology, registry):
        pipeline = topology.pipeline
        lines = open(lines_file).read().splitlines()
        own = await produce_lines(pipeline, topology, bootstrap, lines[:3], partitions=1)

        in_topic = topology.topic("in")
        live = new_client({"url": URL})
        producer = Producer({"bootstrap.servers": bootstrap})
        ctx = SerializationContext(in_topic, MessageField.VALUE)
        strategy = {"subject.name.strategy": lambda c, name: "intake-team-claims"}
        v1 = AvroSerializer(live, json.dumps(foreign_schema(topology, "intake v1")), conf=strategy)
        for i in range(2):
            producer.produce(in_topic, key=f"f{i}".encode(), value=v1(foreign_record(i), ctx))
        producer.flush(30)

        # once the five records are decided (their schemas fetched and cached; bounded wait), the registry
        # goes away: ids seen before still decode from the cache, an unseen one goes to dlq
        outcome_topics = [topology.topic("out"), topology.topic("dlq"), topology.topic("rejected")]
        await asyncio.to_thread(consume, outcome_topics, 5, 90)
        registry.client = new_client({"url": "http://127.0.0.1:9", "max.retries": 0, "timeout": 2})
        v2 = AvroSerializer(live, json.dumps(foreign_schema(topology, "intake v2")), conf=strategy)
        producer.produce(in_topic, key=b"f2", value=v2(foreign_record(2), ctx))
        producer.flush(30)
        got = await asyncio.to_thread(
            consume, [topology.topic("out"), topology.topic("dlq"), topology.topic("rejected")], 6, 90
        )
        out_id = live.get_latest_version(topology.topic("out") + "-value").schema_id
        return {"produced": own.outcomes["in"], "out_id": out_id, "got": got,
                "subjects": sorted(live.get_subjects())}

    asyncio.run(main())
    """
)


def test_a_worker_in_registry_mode_reads_foreign_records_and_writes_what_confluent_reads(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    valid = [line for line in claims_lines(60, seed=11) if '"amount": -' not in line][:3]
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(valid) + "\n")
    script = tmp_path / "registry_worker.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(CLAIMS_SPEC),
            kafka_bootstrap,
            topic_prefix,
            str(tmp_path),
            str(lines),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *_, scenario, ended = done.stdout.strip().splitlines()
    result = json.loads(scenario)
    assert json.loads(ended) == {"code": 0}
    prefix = f"{topic_prefix}.claims-triage"
    assert f"{prefix}.out-value" in result["subjects"] and f"{prefix}.in-value" in result["subjects"]
    assert {"intake-team-claims", "dwf.MixedEnvelope"} <= set(result["subjects"])
    out = [g for g in result["got"] if g["topic"].endswith(".out")]
    # every `out` record carries the registry's id of the out subject and decodes with AvroDeserializer
    assert out and all(g["id"] == result["out_id"] and g["value"]["payload"]["claim_id"] for g in out)
    foreign = {g["value"]["run_id"]: g["value"] for g in out if g["value"]["run_id"].startswith("foreign-")}
    assert set(foreign) == {"foreign-run-0", "foreign-run-1"}  # a foreign producer's records were processed
    assert all(v["payload"]["channel"] is None for v in foreign.values())  # the reader's default
    assert len(result["got"]) == 6  # one outcome each: our 3 lines, 2 foreign records, 1 unresolvable
    down = [
        g for g in result["got"] if g["topic"].endswith(".dlq") and "is unreachable" in (g["error"] or "")
    ]
    assert len(down) == 1, result["got"]  # the record whose schema could not be fetched, with the reason
    assert "while looking up schema id" in down[0]["error"]
    assert result["produced"] == 3
