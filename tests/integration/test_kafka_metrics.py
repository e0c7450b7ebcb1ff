"""The worker's Prometheus endpoint, scraped while a real worker runs the claims example on the real broker:
the counts match what was processed (the generator's expected outcomes and the output topics), and the
health, readiness, lag, audit and drift metrics are served.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dana_workflows.processors.pipeline import REJECTED
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    read_topic,
    stop_worker,
    terminal_decisions,
    worker_env,
)

pytestmark = pytest.mark.integration

EVENTS = 1000
WF = "claims-triage"
WORKER_RULES = ("positive_amount", "known_currency", "has_policy", "within_limit")  # the rest: at ingest


def generated(count: int, seed: int) -> tuple[list[str], Counter[str]]:
    sys.path.insert(0, str(CLAIMS_SPEC.parent))
    try:
        from generate import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    lines, expected = generate(count=count, seed=seed)
    return list(lines), Counter(expected)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def metrics_url(log: Path, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"metrics and health on (http://\S+) ", log.read_text() if log.exists() else "")
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"the worker did not log its metrics address:\n{log.read_text()[-2000:]}")


async def test_scraped_counts_match_what_was_processed(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    lines, expected = generated(EVENTS, seed=19)
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    codec = WireCodec(topology.registry)
    summary = await produce_lines(pipeline, topology, kafka_bootstrap, lines, partitions=2)
    admitted = summary.outcomes["in"]
    cmd = [
        *(
            sys.executable,
            "-m",
            "dana_workflows.cli.worker",
            "worker",
            str(CLAIMS_SPEC),
            "--broker",
            kafka_bootstrap,
        ),
        *(
            "--prefix",
            topic_prefix,
            "--partitions",
            "2",
            "--session-timeout",
            "6",
            "--commit-interval",
            "0.5",
        ),
        *("--audit", f"chdb://{tmp_path / 'audit'}", "--metrics-port", "0", "--log-level", "INFO"),
    ]
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        cmd, env=worker_env(tmp_path), stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=tmp_path
    )
    try:
        url = metrics_url(log)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            deadline = time.monotonic() + 90
            while worker.poll() is None and time.monotonic() < deadline:
                scraped = samples((await http.get("/metrics")).text)
                finished = sum(
                    value(scraped, "dwf_events_out_total", workflow=WF, step=step, outcome=outcome)
                    for step, outcome in (("check_claim", "reject"), ("enforce_objective", "reject"))
                ) + value(
                    scraped, "dwf_events_out_total", workflow=WF, step="enforce_objective", outcome="emit"
                )
                audit = await read_topic(kafka_bootstrap, topology.audit_topic)  # batches of rows
                audit_rows = sum(len(codec.decode_rows(a.value)) for a in audit)
                inserted = value(scraped, "dwf_audit_rows_inserted_total")
                # the lag gauge appears at the worker's first poll of its partitions (every 2 s), the poll
                # that also sets readiness: absent is not 0, so wait until it is there
                lag = scraped.get(
                    ("dwf_consumer_lag_messages", (("partition", "0"), ("topic", topology.topic("in"))))
                )
                if finished >= admitted and inserted >= audit_rows and lag == 0:
                    break
                await asyncio.sleep(1.0)
            ready = await http.get("/readyz")
            live = await http.get("/healthz")
            scraped = samples((await http.get("/metrics")).text)
        decisions = await terminal_decisions(kafka_bootstrap, topology)
    finally:
        code = stop_worker(worker)
    assert code == 0, log.read_text()[-3000:]
    assert ready.status_code == 200 and live.status_code == 200, (ready.text, live.text)

    def out(step: str, outcome: str) -> float:
        return value(scraped, "dwf_events_out_total", workflow=WF, step=step, outcome=outcome)

    rejected_at = Counter(r["step"] for r in map(json.loads, decisions[REJECTED]))
    rules = {r: value(scraped, "dwf_rule_rejections_total", workflow=WF, rule=r) for r in WORKER_RULES}
    assert rules == {r: float(expected[f"reject:{r}"]) for r in WORKER_RULES}
    assert value(scraped, "dwf_events_in_total", workflow=WF, step="normalize") == admitted
    assert out("normalize", "emit") == admitted
    assert (
        out("check_claim", "reject") == rejected_at["check_claim"] == sum(rules[r] for r in WORKER_RULES[:3])
    )
    assert out("triage", "route") == out("check_claim", "emit") == admitted - rejected_at["check_claim"]
    assert out("enforce_objective", "reject") == rejected_at["enforce_objective"] == rules["within_limit"]
    assert (
        out("enforce_objective", "emit") == len(decisions["out"]) == expected["auto_pay"] + expected["review"]
    )
    assert value(scraped, "dwf_step_duration_seconds_count", workflow=WF, step="triage") == out(
        "triage", "route"
    )
    assert value(scraped, "dwf_dlq_total", workflow=WF, step="normalize") == 0
    # the audit sink inserted every row of the audit topic; its buffer drained
    assert value(scraped, "dwf_audit_rows_inserted_total") == audit_rows
    assert value(scraped, "dwf_audit_insert_duration_seconds_count") >= 1
    assert value(scraped, "dwf_audit_buffer_rows") == 0
    # every input partition was consumed to its end; drift monitors published scores
    assert {
        value(scraped, "dwf_consumer_lag_messages", topic=topology.topic("in"), partition=p)
        for p in ("0", "1")
    } == {0.0}
    assert any(name == "dwf_drift_psi" for name, _ in scraped)
    names = {name for name, _ in scraped}
    assert {"dwf_drift_alerts_total", "dwf_drift_late_events_total"} <= names  # declared from the start
    print(
        f"metrics: {admitted} events in, rejections {rules}, "
        f"{int(out('enforce_objective', 'emit'))} out, {audit_rows} audit rows inserted"
    )
