"""`dana-wf produce` (streams/kafka/producer.py) against a stand-in producer: each line is admitted as the
local runtime admits it; accepted envelopes go to `dwf.<wf>.in` keyed by run id, ill-typed lines to
`rejected`, unparseable (and blank) ones to `dlq`, both with decision headers naming the input and the line;
the ingest audit rows travel in AuditBatch messages keyed by the input's name; a broker that does not answer
is one BrokerUnavailableError."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.streams.kafka import producer as producer_module
from dana_workflows.streams.kafka.admin import BrokerUnavailableError
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec, header_map
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: claims
input: {amount: double, currency: string}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
"""


class Producer:
    instances: list[Producer] = []
    fail_start = False

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.sent: list[tuple[str, bytes, bytes | None, Any]] = []
        self.flushed = self.stopped = False
        Producer.instances.append(self)

    async def start(self) -> None:
        if Producer.fail_start:
            raise KafkaConnectionError()

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        self.sent.append((topic, value, key, headers))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def flush(self) -> None:
        self.flushed = True

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    topics: list[tuple[Any, ...]] = []

    async def ensure_topics(
        bootstrap: str, names: list[str], partitions: int, replication: int, **_: Any
    ) -> list[str]:
        topics.append((bootstrap, list(names), partitions, replication))
        return list(names)[:1]  # as if the first was missing

    Producer.instances, Producer.fail_start = [], False
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", Producer)
    monkeypatch.setattr(producer_module, "ensure_topics", ensure_topics)
    return topics


def produce(tmp_path: Path, lines: list[str], **kw: Any) -> tuple[Any, Producer, Topology]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    clock = iter(range(1_000_000, 2_000_000))
    summary = asyncio.run(
        produce_lines(
            pipeline, topo, "broker:9092", lines, clock=lambda: next(clock), source="claims.jsonl", **kw
        )
    )
    (producer,) = Producer.instances
    return summary, producer, topo


LINES = [
    json.dumps({"amount": 5.0, "currency": "USD"}) + "\n",
    json.dumps({"amount": "five", "currency": "USD"}) + "\n",  # ill-typed
    "{not json\n",
    "\n",  # blank: to dlq, audited
]


def test_each_line_goes_where_admission_sends_it(tmp_path: Path, made: list[tuple[Any, ...]]) -> None:
    seen: list[int] = []
    summary, producer, topo = produce(tmp_path, LINES, on_line=seen.append, partitions=6, replication=3)
    assert made == [("broker:9092", made[0][1], 6, 3)]
    assert summary.created_topics == made[0][1][:1]  # what ensure_topics made, for the command's note
    assert topo.topic("in") in made[0][1] and topo.audit_topic in made[0][1]
    assert seen == [0, 1, 2, 3]
    assert summary.lines == 4
    assert summary.outcomes == {"in": 1, "rejected": 1, "dlq": 2}

    events = [s for s in producer.sent if s[0] != topo.audit_topic]
    assert [s[0] for s in events] == [
        topo.topic("in"),
        topo.topic("rejected"),
        topo.topic("dlq"),
        topo.topic("dlq"),
    ]
    _, value, key, headers = events[0]
    _, env = EnvelopeSerde(topo.registry).decode(value)
    assert env.payload == {"amount": 5.0, "currency": "USD"}
    assert key == env.run_id.encode()
    assert headers is None  # an event on its input topic carries no decision headers

    for ordinal, (_, _, key, headers) in enumerate(events[1:], start=1):
        h = header_map(headers)
        assert h["dwf-kind"] == "decision"
        assert h["dwf-source-topic"] == "claims.jsonl"
        assert h["dwf-source-partition"] == "-1"
        assert h["dwf-source-offset"] == str(ordinal)
        assert h["dwf-error"]  # why it was refused
        assert key
    assert "amount" in header_map(events[1][3])["dwf-error"]


def test_the_ingest_audit_rows_travel_in_batches_keyed_by_the_input(
    tmp_path: Path, made: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(producer_module, "AUDIT_EVERY_LINES", 3)
    lines = [json.dumps({"amount": float(i + 1), "currency": "USD"}) for i in range(7)]
    summary, producer, topo = produce(tmp_path, lines)
    audits = [s for s in producer.sent if s[0] == topo.audit_topic]
    assert len(audits) == 3  # lines 0-2, 3-5, and 6 at the end
    assert all(key == b"ingest:claims.jsonl" for _, _, key, _ in audits)
    codec = WireCodec(topo.registry)
    rows = [row for _, value, _, _ in audits for row in codec.decode_rows(value)]
    assert len(rows) == summary.audit_rows > 0
    assert [r.run_id for r in rows if r.kind == "received"] == [
        EnvelopeSerde(topo.registry).decode(v)[1].run_id
        for t, v, _, _ in producer.sent
        if t == topo.topic("in")
    ]
    # the last audit message goes after the last event, and everything is flushed before stopping
    assert producer.sent[-1][0] == topo.audit_topic
    assert producer.flushed and producer.stopped


def test_the_producer_is_idempotent_and_acked_by_all_with_the_topics_size_limit(
    tmp_path: Path, made: list[tuple[Any, ...]]
) -> None:
    _, producer, _ = produce(tmp_path, LINES[:1])
    kw = producer.kwargs
    assert kw["bootstrap_servers"] == "broker:9092"
    assert kw["acks"] == "all"
    assert kw["enable_idempotence"] is True
    assert kw["max_request_size"] == MAX_MESSAGE_BYTES


def test_a_broker_that_does_not_answer_is_one_error_naming_it(
    tmp_path: Path, made: list[tuple[Any, ...]]
) -> None:
    Producer.fail_start = True
    with pytest.raises(BrokerUnavailableError, match="broker:9092"):
        produce(tmp_path, LINES)
