"""Accepted inferred rules are enforced and audited with their origin and version, alike in both runtimes.

The claims spec gets a lock file with one accepted (edited) input rule and one rule that is only
proposed. Local runtime in this process, Kafka runtime as a real worker on the real broker: the same
decisions, rejections at `input_objectives` naming `amount_range@edited.v2`, and no trace of the rule
that was never accepted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dana_workflows.objectives.proposal import Proposal
from dana_workflows.objectives.review import accept, edit, merge_proposals, pick
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.objectives_lock import ObjectivesLock, lock_path, target_fields, write_lock
from dana_workflows.workflow.spec import load_spec
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    multiset,
    read_store_rows,
    start_worker,
    stop_worker,
    wait_consumed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration
EVENTS = 300
LIMIT = 3000.0


def _spec_with_lock(tmp: Path) -> Path:
    spec = tmp / "claims.yaml"
    shutil.copy(CLAIMS_SPEC, spec)
    lock = ObjectivesLock(workflow="claims-triage")
    merge_proposals(
        lock,
        [
            Proposal(
                "amount_range",
                "input",
                "amount <= 9000.0",
                "amount too large",
                "range",
                ("amount",),
                "",
                1,
                0,
                0,
                0.9,
            ),
            Proposal(
                "never_accepted",
                "input",
                "amount < 1.0",
                "proposed only",
                "range",
                ("amount",),
                "",
                1,
                0,
                0,
                0.9,
            ),
        ],
    )
    (rule,) = pick(lock, ["amount_range"])
    edit(rule, f"amount <= {LIMIT}", target_fields(load_spec(spec))["input"])
    accept([rule])
    write_lock(lock_path(spec), lock)
    return spec


async def test_inferred_rules_enforced_alike_in_both_runtimes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    spec = _spec_with_lock(tmp_path)
    lines = claims_lines(EVENTS, seed=5)
    pipeline = load_pipeline(spec)
    assert pipeline.workflow.steps[0].name == "input_objectives"

    topo = Topology(pipeline, FileRegistry(tmp_path / "local-schemas"), prefix="dwf")
    outputs = OutputFiles(tmp_path / "local-out", topo)
    local_rows: list = []  # type: ignore[type-arg]
    await LocalRuntime(pipeline, topo, outputs, collect_rows(local_rows)).run(lines)
    local = {b: [canonical_json(r) for r in read_jsonl(p)] for b, p in outputs.paths.items()}

    by_rule = [json.loads(d) for d in local["rejected"] if json.loads(d)["step"] == "input_objectives"]
    assert by_rule, "the sample has claims above the limit"
    for d in by_rule:
        assert d["payload"]["amount"] > LIMIT
        assert any(r.startswith("amount_range@edited.v2") for r in d["provenance"]["reasons"])
    for d in map(json.loads, local.get("out", [])):
        assert d["payload"]["amount"] <= LIMIT
    audited = [r for r in local_rows if r.step == "input_objectives"]
    assert audited and all("amount_range@edited.v2" in r.rule_results for r in audited)
    assert not any("never_accepted" in r.rule_results for r in local_rows)

    ktopo = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    await produce_lines(pipeline, ktopo, kafka_bootstrap, lines, partitions=2)
    worker = start_worker(
        tmp_path, kafka_bootstrap, topic_prefix, audit=f"chdb://{tmp_path / 'audit'}", spec=spec
    )
    try:
        got = await wait_for_outcomes(
            kafka_bootstrap, ktopo, EVENTS, 120, alive=lambda: worker.poll() is None
        )
        group = f"{topic_prefix}-{pipeline.workflow.name}"
        assert await wait_consumed(
            kafka_bootstrap, group, ktopo.audit_topic, 60, lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    for boundary in got:
        assert multiset(got[boundary]) == multiset(local.get(boundary, [])), boundary
    kafka_rows = [r for r in read_store_rows(tmp_path / "audit") if r.step == "input_objectives"]
    assert sorted(r.rule_results for r in kafka_rows) == sorted(r.rule_results for r in audited)
