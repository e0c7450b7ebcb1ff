"""The one boundary policy (processors/boundary.py) the local runtime, the Kafka step agents and the
producer share: an envelope that fits a boundary's schema crosses it; one that does not goes to the dlq
with the same reason, provenance and audit row wherever it happens."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.processors.boundary import Boundaries, Misfit
from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: fit
version: 1
input: {x: double, tag: string}
steps:
  - check:
      validate:
        - {id: pos, rule: "x > 0.0"}
"""


def setup(tmp_path: Path) -> tuple[Topology, Boundaries]:
    pipeline = compile_pipeline(parse_spec(SPEC, file="fit.yaml"))
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix="p")
    return topology, Boundaries(EnvelopeSerde(topology.registry), topology.topics)


def envelope(payload: dict[str, object]) -> Envelope:
    return Envelope("e1", "r1", "fit", 1, "ingest", payload, produced_at=5)


def test_an_envelope_that_fits_crosses_unchanged(tmp_path: Path) -> None:
    topology, boundaries = setup(tmp_path)
    env = envelope({"x": 2.5, "tag": "a"})
    crossed = boundaries.roundtrip(env, ENTRY, lambda: 99)
    assert isinstance(crossed, Envelope) and crossed.payload == {"x": 2.5, "tag": "a"}
    encoded = boundaries.encode(env, ENTRY, lambda: 99)
    assert isinstance(encoded, bytes)
    assert EnvelopeSerde(topology.registry).decode(encoded)[1].payload == env.payload
    assert "error" not in env.provenance


@pytest.mark.parametrize("crossing", ["encode", "roundtrip"])
def test_a_payload_that_does_not_fit_goes_to_dlq_with_its_reason(tmp_path: Path, crossing: str) -> None:
    _, boundaries = setup(tmp_path)
    env = envelope({"x": "not a number", "tag": "a"})
    result = getattr(boundaries, crossing)(env, ENTRY, lambda: 99)
    assert isinstance(result, Misfit)
    assert result.reason.startswith("payload does not fit the Avro schema of 'p.fit.in': ")
    assert env.provenance["error"] == result.reason
    row = result.row
    assert (row.kind, row.step, row.decision, row.reason, row.ts_us) == (
        "dlq",
        ENTRY,
        "dlq",
        result.reason,
        99,
    )
    assert row.run_id == "r1"


async def test_the_local_runtime_sends_a_misfit_to_dlq_with_the_policys_row(tmp_path: Path) -> None:
    """The local runtime crosses its boundaries through the policy: the reason and row, counted as dlq."""
    topology, _ = setup(tmp_path)
    rows: list = []  # type: ignore[type-arg]
    runtime = LocalRuntime(topology.pipeline, topology, None, collect_rows(rows))
    env = envelope({"x": 1.0})  # no tag: does not fit the input boundary's schema
    await runtime.process_envelope(env, ENTRY)
    runtime.flush()
    assert runtime.summary.outcomes["dlq"] == 1
    (row,) = [r for r in rows if r.kind == "dlq"]
    assert row.reason.startswith("payload does not fit the Avro schema of 'p.fit.in'")
