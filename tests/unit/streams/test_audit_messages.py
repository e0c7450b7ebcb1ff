"""Audit rows of a batch of records travel in AuditBatch messages cut below the broker's message limit
(streams/kafka/wire.py ``audit_messages``): every row arrives, in order, no message grows past the limit
by more than one row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import CLAIMS_SPEC, claims_lines

pytestmark = pytest.mark.unit


def claims_rows(tmp_path: Path) -> tuple[WireCodec, list[AuditRow]]:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    asyncio.run(LocalRuntime(pipeline, topology, None, collect_rows(rows)).run(claims_lines(50, seed=8)))
    return WireCodec(topology.registry), rows


def test_rows_are_cut_into_messages_below_the_limit_and_all_arrive(tmp_path: Path) -> None:
    codec, rows = claims_rows(tmp_path)
    limit = 4096
    messages = codec.audit_messages(rows, limit)
    biggest_row = max(len(codec.encode_row_body(r)) for r in rows)
    assert len(messages) > 1
    assert all(len(m) <= limit + biggest_row + 16 for m in messages)  # 16: header and array framing
    decoded = [r for m in messages for r in codec.decode_rows(m)]
    assert [r.as_dict() for r in decoded] == [r.as_dict() for r in rows]


def test_rows_below_the_limit_are_one_message(tmp_path: Path) -> None:
    codec, rows = claims_rows(tmp_path)
    (message,) = codec.audit_messages(rows[:3], 1 << 20)
    assert [r.as_dict() for r in codec.decode_rows(message)] == [r.as_dict() for r in rows[:3]]
    assert codec.audit_messages([], 1 << 20) == []
