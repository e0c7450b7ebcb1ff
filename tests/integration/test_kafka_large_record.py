"""Issue 12: one large but legal claim (a 600,000-character description) used to crash-loop a worker:
the step message plus its drift header passed the producer's limit. Now the header carries the drift
monitor's keys, not the text (drift/features.carried_value), a record no topic could take goes to dlq
with the reason (schemas/record_size.py), and the worker goes on: every event exactly one outcome."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.schemas.record_size import MAX_VALUE_BYTES
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import CLAIMS_SPEC, start_worker, stop_worker, wait_for_outcomes
from tests.unit.processors.test_hostile_lines import good

pytestmark = pytest.mark.integration


def _filling_the_input_record(topology: Topology) -> str:
    """A description that makes the claim's input record exactly MAX_VALUE_BYTES: the producer sends it,
    and the record after normalize (which adds amount_usd) is over the limit, so the worker must send it
    to dlq. Measured with the input topic's own encoder, at a timestamp as long as the producer's."""
    serde, sid, probe = EnvelopeSerde(topology.registry), topology.schema_id(ENTRY), 900_000
    env = admit(
        topology.pipeline.workflow, good(claim_id="too-large", description="x" * probe), 2, wall_clock_us()
    )
    return "x" * (MAX_VALUE_BYTES - (len(serde.encode(env.envelope, sid)) - probe))


@pytest.mark.parametrize("layout", ["fused", "per-step"])
async def test_a_600k_description_does_not_stop_the_worker(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, layout: str
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    words = " ".join(f"word{i % 5000}" for i in range(70_000))  # ~600,000 characters of text
    lines = [
        good(claim_id="before"),
        good(claim_id="large", description=words[:600_000]),
        good(claim_id="too-large", description=_filling_the_input_record(topology)),  # not after normalize
        good(claim_id="after"),
    ]
    summary = await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=1)
    assert sum(summary.outcomes.values()) == len(lines)
    extra = ["--per-step-topics"] if layout == "per-step" else []  # per step: the drift header rides along
    worker = start_worker(tmp_path, kafka_bootstrap, topic_prefix, partitions=1, extra=extra)
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, topology, len(lines), 120, alive=lambda: worker.poll() is None
        )
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    log = (tmp_path / "worker.log").read_text()
    assert "MessageSizeTooLargeError" not in log
    by_claim: Counter[tuple[str | None, str]] = Counter()
    for boundary, decisions in got.items():
        for d in decisions:
            payload = json.loads(d).get("payload") or {}
            claim = payload.get("claim_id") if isinstance(payload, dict) else None
            by_claim[(claim, boundary)] += 1
    outcomes = Counter(claim for claim, _ in by_claim.elements())
    assert outcomes["before"] == outcomes["after"] == outcomes["large"] == 1, by_claim
    # every line exactly one outcome: the too-large claim too, in dlq, its reason naming the size limit
    # (wait_for_outcomes returns at its deadline as well, so the count is asserted here)
    runs = Counter(json.loads(d)["run_id"] for decisions in got.values() for d in decisions)
    assert len(runs) == len(lines) and set(runs.values()) == {1}, runs
    dlq = [json.loads(d) for d in got["dlq"]]
    assert len(dlq) == 1, dlq
    assert "over the 1,000,000-byte limit" in (dlq[0]["provenance"].get("error") or ""), dlq[0]["provenance"]
