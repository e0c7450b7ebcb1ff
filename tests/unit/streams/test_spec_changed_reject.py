"""newcomer4 N4-1: events admitted under spec v3 and waiting on the input topic when a worker of v4 (a new
required input field) starts are rejected by that worker with their reason and the audit row a step's reject
writes (continuing each run's chain), not sent to the dlq as poison bytes with no outcome in the audit."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec
from tests.unit.streams import test_mut9_step_agents as base

pytestmark = pytest.mark.unit

V3 = base.SPEC.replace("workflow: hops\n", "workflow: hops\nversion: 3\n")
V4 = V3.replace("version: 3", "version: 4").replace("count: long?}", "count: long?, region: string}")


def _worker(tmp_path: Path, spec: str) -> tuple[Any, base.Committer]:
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = compile_pipeline(parse_spec(spec))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))  # one registry: the v3 ids stay known
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)  # builds, never connects
    committer = base.Committer()
    runtime.context.committer = committer  # type: ignore[assignment]
    return runtime, committer


def test_events_written_under_v3_are_rejected_by_a_v4_worker_with_their_audit_row(tmp_path: Path) -> None:
    v3, _ = _worker(tmp_path, V3)
    adm = admit(v3.pipeline.workflow, json.dumps({"amount": 250.0, "currency": "USD"}), 5, base.PRODUCED_AT)
    assert adm.accepted
    msg = SimpleNamespace(
        value=v3.steps.serde.encode(adm.envelope, v3.topology.schema_id(ENTRY)),
        key=adm.envelope.run_id.encode(),
        headers=[],
        topic=v3.context.topic(ENTRY),
        partition=2,
        offset=9,
    )
    v4, committer = _worker(tmp_path, V4)
    assert v4.topology.schema_id(ENTRY) != v3.topology.schema_id(ENTRY)
    base.handle(v4, [msg])

    kinds = [entry[0] for entry in committer.log]
    assert kinds == ["section", "audit", "send", "done"]
    (row,) = committer.log[1][3]
    entry = v4.pipeline.entry_node.path
    assert (row.step, row.kind, row.decision) == (entry, "rejected", "reject")
    assert (
        row.reason
        == "schema.region: 'region' is required (the event was written before the spec required it)"
    )
    assert json.loads(row.rule_results)[0]["rule_id"] == "schema.region"
    # the run's chain goes on from the admission rows (received, emitted) the v3 producer wrote
    assert (row.run_id, row.seq, row.prev_hash) == (adm.envelope.run_id, 2, adm.rows[-1].hash)
    assert row.workflow_version == 3  # the event's own version, as written

    _, where, topic, key, value, headers = committer.log[2]
    assert where == (v4.context.topic(ENTRY), 2)
    assert topic == v4.context.topic("rejected") and key == msg.key
    assert headers["dwf-kind"] == "decision" and headers["dwf-error"] == row.reason
    assert headers["dwf-schema-id"] == str(v3.topology.schema_id(ENTRY))  # the writer's schema
    decided = v4.context.codec.decode_mixed(value)
    assert decided.payload == {"amount": 250.0, "currency": "USD", "count": None}
    assert decided.provenance["reasons"] == [row.reason]
    assert committer.log[3] == ("done", (v4.context.topic(ENTRY), 2), 9)


def test_bytes_no_schema_reads_stay_poison_for_the_dlq(tmp_path: Path) -> None:
    v4, committer = _worker(tmp_path, V4)
    bad = SimpleNamespace(
        value=b"\x00\x00\x00\x00\x01zz", key=b"k", headers=[], topic="t", partition=0, offset=1
    )
    base.handle(v4, [bad])
    (send,) = [e for e in committer.log if e[0] == "send"]
    assert send[2] == v4.context.topic("dlq") and send[5]["dwf-kind"] == "poison"
    assert committer.log[1][2] == []  # no audit rows: no run to chain them to
