"""The audit sink reads AuditBatch messages with the compiled decoder (streams/kafka/wire.py
``decode_rows``): the rows are what a standard Avro reader (fastavro) reads from the same bytes, and bytes
that are not a whole AuditBatch are poison, never rows made up from part of them."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import fastavro
import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.wire import AUDIT_BATCH_SCHEMA, WireCodec
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import CLAIMS_SPEC, claims_lines

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def codec_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[WireCodec, list[AuditRow]]:
    tmp = tmp_path_factory.mktemp("audit-decode")
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"))
    rows: list[AuditRow] = []
    asyncio.run(LocalRuntime(pipeline, topology, None, collect_rows(rows)).run(claims_lines(40, seed=3)))
    return WireCodec(topology.registry), rows


def fastavro_rows(message: bytes) -> list[dict[str, object]]:
    parsed = fastavro.parse_schema(AUDIT_BATCH_SCHEMA)
    batch: Any = fastavro.schemaless_reader(io.BytesIO(message[5:]), parsed, None)
    return list(batch["rows"])


def test_rows_are_what_a_standard_avro_reader_reads(codec_rows: tuple[WireCodec, list[AuditRow]]) -> None:
    codec, rows = codec_rows
    message = codec.encode_rows(rows)
    decoded = codec.decode_rows(message)
    assert all(type(r) is AuditRow for r in decoded)
    assert [r.as_dict() for r in decoded] == fastavro_rows(message)
    assert len(decoded) == len(rows) > 40  # several rows an event


def test_a_lone_audit_row_message_is_still_read(codec_rows: tuple[WireCodec, list[AuditRow]]) -> None:
    codec, rows = codec_rows
    assert codec.decode_rows(codec.encode_row(rows[0])) == [rows[0]]


@pytest.mark.parametrize("cut", ["truncated", "trailing", "other schema", "header only"])
def test_bytes_that_are_not_a_whole_batch_are_poison(
    codec_rows: tuple[WireCodec, list[AuditRow]], cut: str
) -> None:
    codec, rows = codec_rows
    message = codec.encode_rows(rows[:5])
    bad = {
        "truncated": message[:-40],
        "trailing": message + b"\x02xy",
        "other schema": message[:1] + (codec.mixed_sid).to_bytes(4, "big") + message[5:],
        "header only": message[:5],
    }[cut]
    with pytest.raises(PoisonMessageError):
        codec.decode_rows(bad)
