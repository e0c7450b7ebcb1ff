"""streams/kafka/resume_topics.read_topic (session 16): a mixed topic's records split in one read into the
decision envelopes and the poison records (`dwf-kind: poison`, bytes kept as they came), each poison
record with its partition, offset and `dwf-error` reason. The broker is replaced at read_records and the
codec at WireCodec, so only the split is tested (mutation pass, session 17)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka import resume_topics
from dana_workflows.streams.kafka.resume_topics import PoisonRecord, read_envelopes, read_poison, read_topic
from dana_workflows.streams.kafka.security import KafkaSecurity

pytestmark = pytest.mark.unit


class Codec:
    def __init__(self, registry: Any) -> None:
        pass

    def decode_mixed(self, data: bytes) -> Any:
        return ("envelope", data)


def _record(partition: int, offset: int, value: bytes, **headers: str) -> Any:
    pairs = [(k.replace("_", "-"), v.encode()) for k, v in headers.items()]
    return SimpleNamespace(partition=partition, offset=offset, value=value, headers=pairs)


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        _record(0, 0, b"e1", dwf_kind="decision"),
        _record(1, 4, b"\xff not json", dwf_kind="poison", dwf_error="not JSON: Expecting value"),
        _record(0, 1, b"e2"),  # no kind header: an envelope
        _record(1, 5, b"[]", dwf_kind="poison"),  # no reason recorded
    ]

    async def read_records(bootstrap: str, name: str, security: Any = None) -> list[Any]:
        return records

    monkeypatch.setattr(resume_topics, "read_records", read_records)
    monkeypatch.setattr(resume_topics, "WireCodec", Codec)


def test_poison_records_are_kept_apart_with_their_place_and_reason(topic: None) -> None:
    topology: Any = SimpleNamespace(registry=None)
    envelopes, poison = asyncio.run(read_topic("b:1", topology, "dwf.t.dlq", KafkaSecurity()))
    assert envelopes == [("envelope", b"e1"), ("envelope", b"e2")]
    assert poison == [PoisonRecord(1, 4, "not JSON: Expecting value"), PoisonRecord(1, 5, "")]
    assert asyncio.run(read_envelopes("b:1", topology, "dwf.t.dlq", KafkaSecurity())) == envelopes


def test_read_poison_gives_the_poison_records_alone_without_decoding(topic: None) -> None:
    """`dana-wf status` counts these apart from the outcomes (newcomer4 N4-1); no envelope is decoded."""
    assert asyncio.run(read_poison("b:1", "dwf.t.dlq", KafkaSecurity())) == [
        PoisonRecord(1, 4, "not JSON: Expecting value"),
        PoisonRecord(1, 5, ""),
    ]
