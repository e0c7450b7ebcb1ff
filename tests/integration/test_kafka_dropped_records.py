"""A record faust drops (as it can around a rebalance) is found by the committer and handled from the
broker's copy: no event is lost, none is done twice, and the group's offsets still reach the end of every
topic. Under exactly-once, every topic also has transaction markers between records: the committer must
account for those offsets from the broker's view, or its commits would stop at the first marker.

The drops are injected (``DWF_FAULT_DROP_RECORDS``, streams/kafka/faults.py) at the entry step (fused: the
chain of all steps), a middle step (in the per-step layout), the drift agent's input and the audit sink's
input, all in one worker, and at the last record of an
input partition (no later record shows that gap: the agent's idleness does).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    read_store_rows,
    read_topic,
    start_worker,
    stop_worker,
    wait_consumed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

EVENTS = 400
DROPS = [
    "claims-triage.in:0:3",
    "claims-triage.in:1:40",
    "claims-triage.drift-values:0:2",  # a message carries a batch's values: there are fewer messages
]
MIDDLE_STEP_DROP = "claims-triage.check_claim:1:7"  # a middle step's topic: only the per-step layout has one


@pytest.mark.parametrize(
    ("guarantee", "layout"),
    [("at_least_once", "fused"), ("exactly_once", "fused"), ("at_least_once", "per-step")],
)
async def test_a_dropped_record_is_handled_from_the_brokers_copy(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, guarantee: str, layout: str
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, claims_lines(EVENTS, seed=41), partitions=2)
    group = f"{topic_prefix}-{pipeline.workflow.name}"
    # and the last record of an input partition: no later record reveals that one's gap
    last = max(r.offset for r in await read_topic(kafka_bootstrap, topology.topic("in")) if r.partition == 1)
    # an audit record that is there for sure: produce's second ingest batch (200 lines a message); the
    # worker's own audit messages are few (one per batch or transaction) and land where their keys hash
    ingest = [r for r in await read_topic(kafka_bootstrap, topology.audit_topic) if r.offset == 1]
    drops = [*DROPS, f"claims-triage.in:1:{last}", f"audit:{ingest[0].partition}:1"]
    if layout == "per-step":
        drops.append(MIDDLE_STEP_DROP)
    worker = start_worker(
        tmp_path,
        kafka_bootstrap,
        topic_prefix,
        guarantee,
        audit=f"chdb://{tmp_path / 'audit'}",
        env={"DWF_FAULT_DROP_RECORDS": ",".join(drops)},
        extra=["--per-step-topics"] if layout == "per-step" else [],
    )
    alive = lambda: worker.poll() is None  # noqa: E731
    try:
        got = await wait_for_outcomes(kafka_bootstrap, topology, EVENTS, 120, alive=alive)
        inputs = [topology.topic(n.input) for n in pipeline.nodes.values()]
        for topic in [*inputs, f"{topic_prefix}.claims-triage.drift-values", topology.audit_topic]:
            assert await wait_consumed(kafka_bootstrap, group, topic, 60, alive), f"{topic} not committed"
    finally:
        code = stop_worker(worker)
    log = (tmp_path / "worker.log").read_text()
    assert code == 0, log[-3000:]

    runs = Counter(json.loads(d)["run_id"] for ds in got.values() for d in ds)
    assert len(runs) == EVENTS  # no event lost
    assert max(runs.values()) == 1, "an event was done twice"
    assert log.count("fault injection: dropped") == len(drops)
    assert log.count("handling it from the broker's copy") == len(drops), log[-3000:]

    rows = read_store_rows(tmp_path / "audit")
    report = verify_rows(rows)
    assert report.ok, [str(f) for f in report.findings][:5]
    assert not report.duplicates, [str(f) for f in report.duplicates[:5]]
    assert {r.run_id for r in rows if r.kind in {"completed", "rejected", "dlq"}} == set(runs)
