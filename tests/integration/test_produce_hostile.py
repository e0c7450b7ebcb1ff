"""`dana-wf produce` on a real broker with hostile lines (issue 12): the same lines as the local run of
tests/unit/processors/test_hostile_lines.py, plus one legal claim of ~1.1 MB that no topic can take. Every
line gets exactly one outcome (in/rejected/dlq) and its audit rows; the producer never stops."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import H_ERROR, WireCodec, header_map
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import CLAIMS_SPEC, read_topic
from tests.unit.processors.test_hostile_lines import HOSTILE, PAST_ADMISSION, good

pytestmark = pytest.mark.integration


async def test_produce_gives_every_hostile_line_one_outcome(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    huge = good(claim_id="huge", description="d" * 1_100_000)  # legal, but over any topic's limit
    broken = '{"claim_id": "' + "y" * 1_200_000  # over a megabyte and not even JSON
    cases = [
        *HOSTILE,
        *PAST_ADMISSION,
        (huge, "dlq", "over the 1,000,000-byte limit"),
        (broken, "dlq", "not valid"),
    ]
    lines = [good(claim_id="first"), *(c[0] for c in cases), good(claim_id="last")]
    summary = await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=1)
    expected = Counter(c[1] for c in cases)
    assert summary.lines == len(lines)
    assert summary.outcomes == {"in": 2, "rejected": expected["rejected"], "dlq": expected["dlq"]}

    dlq = await read_topic(kafka_bootstrap, topology.topic("dlq"))
    codec = WireCodec(topology.registry)
    reasons = [header_map(m.headers).get(H_ERROR, "") for m in dlq]
    assert len(dlq) == expected["dlq"]
    for _line, outcome, named in cases:
        if outcome == "dlq":
            assert any(named in r for r in reasons), (named, reasons)
    too_big = [codec.decode_mixed(m.value) for m in dlq if "byte limit" in header_map(m.headers)[H_ERROR]]
    assert len(too_big) == 1 and too_big[0].payload["payload_bytes"] > 1_100_000  # bounded, not dropped
    assert all(len(m.value) < 1_000_000 and sum(len(v) for _, v in m.headers) < 10_000 for m in dlq)
    # the audit rows: one received row per line, and one terminal per line
    rows = [
        r for m in await read_topic(kafka_bootstrap, topology.audit_topic) for r in codec.decode_rows(m.value)
    ]
    received = Counter(r.run_id for r in rows if r.kind == "received")
    assert len(received) == len(lines) and set(received.values()) == {1}
    terminal = Counter(r.run_id for r in rows if r.kind in ("rejected", "dlq"))  # the two good lines go in
    assert set(terminal) <= set(received) and set(terminal.values()) == {1}
    assert len(terminal) == expected["rejected"] + expected["dlq"]
    json.dumps([r.reason for r in rows])  # printable
