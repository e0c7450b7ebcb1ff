"""Audit rows of a batch of records travel in AuditBatch messages cut below the broker's message limit
(streams/kafka/wire.py ``audit_messages``): every row arrives, in order, no message grows past the limit
by more than one row."""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path

import fastavro
import pytest

from dana_workflows.schemas.codec import ACCELERATOR_BUILT, PURE_ENV
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.wire import AUDIT_ROW_SCHEMA, AuditBatchBuilder, WireCodec
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


def test_a_message_ends_with_the_row_that_brings_it_to_the_limit(tmp_path: Path) -> None:
    """Where the cuts fall: a message takes rows until their encodings' bytes reach ``limit`` (that row
    included), the next message starts after it; a limit one byte higher moves the cut one row on."""
    codec, rows = claims_rows(tmp_path)
    rows = rows[:40]
    sizes = [len(codec.encode_row_body(r)) for r in rows]
    first_three = sum(sizes[:3])
    for limit, expected in (
        (first_three, 3),  # the third row brings the message to the limit exactly
        (first_three + 1, 4),  # one byte more: the fourth row does
        (1, 1),  # every row reaches a limit of one byte: a message per row
    ):
        messages = codec.audit_messages(rows, limit)
        assert len(codec.decode_rows(messages[0])) == expected, limit
        assert [r.as_dict() for m in messages for r in codec.decode_rows(m)] == [r.as_dict() for r in rows]
    assert len(codec.audit_messages(rows, 1)) == len(rows)
    assert len(codec.audit_messages(rows, sum(sizes))) == 1  # only the last row reaches it
    assert len(codec.audit_messages(rows, sum(sizes) - sizes[-1])) == 2


def test_a_rows_body_is_what_fastavro_writes_for_it(tmp_path: Path) -> None:
    """The compiled encoder, fed the record built from the row's attributes, writes fastavro's bytes for
    ``AuditRow.as_dict``: the record builder reads every column the schema has."""
    codec, rows = claims_rows(tmp_path)
    for row in rows[:20]:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, fastavro.parse_schema(AUDIT_ROW_SCHEMA), row.as_dict())
        assert codec.encode_row_body(row) == buf.getvalue()
    assert codec.row_bodies(rows[:20]) == [codec.encode_row_body(r) for r in rows[:20]]


def test_the_rows_bodies_are_the_same_with_and_without_the_c_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``row_bodies`` reads the rows' attributes in C where the accelerator runs (one call a batch), else
    encodes the dicts of ``_row_record``: the same bytes either way, so the audit messages are too."""
    codec, rows = claims_rows(tmp_path)
    monkeypatch.setenv(PURE_ENV, "1")
    pure = WireCodec(codec.registry)
    assert pure._rows_encoder is None
    assert pure.row_bodies(rows) == codec.row_bodies(rows)
    assert pure.audit_messages(rows, 4096) == codec.audit_messages(rows, 4096)
    if ACCELERATOR_BUILT:
        assert codec._rows_encoder is not None


def test_extend_cuts_as_adding_row_by_row_and_taking_at_the_limit_would(tmp_path: Path) -> None:
    """``AuditBatchBuilder.extend`` against the rule it replaces in a caller's loop (rows added one at a
    time, a message taken whenever the builder's size reaches the limit), with rows already held from an
    earlier call, over many limits and ways to split the rows into calls."""
    codec, rows = claims_rows(tmp_path)
    rows = rows[:120]
    sizes = [len(codec.encode_row_body(r)) for r in rows]
    rng = random.Random(5)
    for limit in (1, sizes[0], sizes[0] + 1, 700, 2048, sum(sizes) // 3, sum(sizes), 1 << 30):
        for _ in range(6):
            cuts = sorted(rng.sample(range(1, len(rows)), 3))
            calls = [rows[a:b] for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True)]
            reference, expected = AuditBatchBuilder(codec), []
            built, got = AuditBatchBuilder(codec), []
            for call in calls:
                for row in call:
                    reference.add([row])
                    if reference.size >= limit:
                        expected.append(reference.take())
                got += built.extend(call, limit)
                assert built.size == reference.size and len(built) == len(reference), limit
            assert got == expected, limit
            assert built.take() == reference.take()
