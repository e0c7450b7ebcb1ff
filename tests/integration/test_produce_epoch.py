"""`dana-wf produce --epoch N` (docs/audit.md, "Running an input again"): a file produced a second time
gets run ids of its own, `<the input's id>-N`, so the workers do not take it for a redelivery of the first
time's runs and `audit verify` finds no forks (newcomer review F8). A real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import CLAIMS_SPEC, read_topic
from tests.unit.processors.test_hostile_lines import good

pytestmark = pytest.mark.integration


async def test_a_second_produce_with_an_epoch_has_run_ids_of_its_own(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = [good(claim_id="a"), good(claim_id="b")]
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=1)
    await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=1, epoch=2)
    codec = WireCodec(topology.registry)
    rows = [
        r for m in await read_topic(kafka_bootstrap, topology.audit_topic) for r in codec.decode_rows(m.value)
    ]
    received = [r for r in rows if r.kind == "received"]
    first = [admit(pipeline.workflow, line, i, 0).envelope.run_id for i, line in enumerate(lines)]
    assert [r.run_id for r in received] == [*first, *(f"{run}-2" for run in first)]
    assert [json.loads(r.details).get("epoch") for r in received] == [None, None, 2, 2]
    keys = [m.key.decode() for m in await read_topic(kafka_bootstrap, topology.topic("in"))]
    assert keys == [*first, *(f"{run}-2" for run in first)]
