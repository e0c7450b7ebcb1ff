"""Two workers in one consumer group share the work: the second joins while the first is in the middle of a
stream (events keep coming until the join has moved partitions away from the first worker while it had
handled, not yet committed records), and at the end one leaves (another rebalance).

Every input event reaches exactly one terminal outcome, with either guarantee: a revocation commits what
was handled (commit.py), so no record is redone by its next owner. Each worker stores the audit rows of
the audit partitions it owns in its own chdb directory; together they hold every run's chain, once.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from dana_workflows.processors.pipeline import DLQ, REJECTED
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    count_records,
    read_store_rows,
    read_topic,
    start_worker,
    stop_worker,
    wait_consumed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

CHUNK = 250
MAX_CHUNKS = 40
HANDLED = re.compile(r"drained: handled (\d+) records: ([^;\n]*)")  # "; N dropped records ..." after


def handled(log: Path) -> dict[str, int]:
    """Records each worker registered per source partition (its 'drained:' log line)."""
    found = HANDLED.findall(log.read_text())
    assert found, f"no 'drained:' line in {log.name}: " + log.read_text()[-2000:]
    parts = [p.rsplit(" ", 1) for p in found[-1][1].split(", ") if p != "none"]
    return {tp: int(n) for tp, n in parts}


def revoked_with_progress(log: Path) -> bool:
    """The worker committed handled records when partitions were taken away (commit.py logs it)."""
    return any("partitions revoked" in line and "@" in line for line in log.read_text().splitlines())


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_two_workers_share_the_partitions(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, guarantee: str
) -> None:
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    lines = claims_lines(CHUNK * MAX_CHUNKS, seed=31)
    group = f"{topic_prefix}-{pipeline.workflow.name}"

    def start(name: str) -> subprocess.Popen[bytes]:
        return start_worker(
            tmp_path,
            kafka_bootstrap,
            topic_prefix,
            guarantee,
            audit=f"chdb://{tmp_path / f'audit-{name}'}",
            log_name=f"{name}.log",
            # commits far apart: only the commit on revocation keeps the next owner from redoing records
            extra=[
                "--log-level",
                "INFO",
                "--data-dir",
                str(tmp_path / f"data-{name}"),
                "--commit-interval",
                "8",
            ],
        )

    terminals = [topology.topic(b) for b in [*pipeline.terminals, REJECTED, DLQ]]
    workers = [start("a")]
    alive = lambda: all(w.poll() is None for w in workers)  # noqa: E731
    produced = 0
    try:
        # a stream at the workers' pace (a chunk more once the previous one is through) that keeps flowing
        # until the second worker's join has moved partitions away from the first while it had handled,
        # not yet committed records
        while alive() and produced < len(lines) and not revoked_with_progress(tmp_path / "a.log"):
            await produce_lines(
                pipeline, topology, kafka_bootstrap, lines[produced : produced + CHUNK], partitions=2
            )
            produced += CHUNK
            while alive() and await count_records(kafka_bootstrap, terminals) < produced - CHUNK:
                await asyncio.sleep(0.1)
            if len(workers) == 1 and produced >= 2 * CHUNK:
                workers.append(start("b"))
        assert len(workers) == 2 and revoked_with_progress(tmp_path / "a.log"), "no rebalance mid-stream"
        for _ in range(2):  # and some more for both of them
            await produce_lines(
                pipeline, topology, kafka_bootstrap, lines[produced : produced + CHUNK], partitions=2
            )
            produced += CHUNK
        got = await wait_for_outcomes(kafka_bootstrap, topology, produced, 150, alive=alive)
        assert await wait_consumed(kafka_bootstrap, group, topology.audit_topic, 60, alive)
    finally:
        codes = [stop_worker(w) for w in workers]  # the first to leave moves its partitions once more
    assert codes == [0, 0], (tmp_path / "a.log").read_text()[-2000:] + (tmp_path / "b.log").read_text()[
        -2000:
    ]

    for name in ("a", "b"):  # the transactions kept over a rebalance begin once (commit.AlreadyBegunFilter)
        log_text = (tmp_path / f"{name}.log").read_text()
        assert "IN_TRANSACTION -> TransactionState.IN_TRANSACTION" not in log_text

    outcomes: dict[str, list[str]] = defaultdict(list)
    for decisions in got.values():
        for d in decisions:
            outcomes[json.loads(d)["run_id"]].append(d)
    assert len(outcomes) == produced  # no event lost
    repeated = {run: ds for run, ds in outcomes.items() if len(ds) > 1}
    assert not repeated, f"{len(repeated)} runs redone after a rebalance ({guarantee})"

    inputs = {topology.topic(node.input) for node in pipeline.nodes.values()}
    counts = {name: handled(tmp_path / f"{name}.log") for name in ("a", "b")}
    steps = {name: {tp: n for tp, n in c.items() if tp.split("[")[0] in inputs} for name, c in counts.items()}
    assert all(steps.values()), steps  # both took step partitions
    for topic in inputs:  # and together handled each step's records once
        assert sum(n for c in steps.values() for tp, n in c.items() if tp.startswith(f"{topic}[")) == len(
            await read_topic(kafka_bootstrap, topic)
        ), (topic, steps)

    drift_run = f"{pipeline.workflow.name}.drift"  # the drift agent's chain: test_kafka_drift.py
    rows = [
        r
        for d in ("audit-a", "audit-b")
        if (tmp_path / d).exists()
        for r in read_store_rows(tmp_path / d)
        if r.run_id != drift_run
    ]
    report = verify_rows(rows)
    assert report.ok, [str(f) for f in report.findings if f.kind != "duplicate"][:5]
    assert not report.duplicates, [str(f) for f in report.duplicates[:5]]
    assert {r.run_id for r in rows if r.kind in {"completed", "rejected", "dlq"}} == set(outcomes)
    print(f"{guarantee}: step records handled per worker {steps}")
