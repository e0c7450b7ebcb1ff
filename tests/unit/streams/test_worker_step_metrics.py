"""The Kafka worker's step metrics as a scrape returns them (streams/kafka/worker_metrics.py; the names in
docs/operations.md). The worker tallies every step of every record in plain lists and ints and counts the
tally into the prometheus objects once a batch ran (docs/performance.md, session 14): what /metrics serves
must be what one ``observe``/``inc`` per step would give. Expected values are written from the behaviour:
N events through K steps give these counts per step and outcome, these bucket counts (a duration counts in
every bucket whose bound it does not exceed), these rejections per rule and these dlq counts, each scrape
showing everything up to the end of the last flushed batch and nothing of the one still running; the series
of a family are listed in the order their outcomes first came."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import DLQ, ENTRY, REJECTED, REVIEW
from dana_workflows.streams.kafka.worker_metrics import WorkerMetrics
from dana_workflows.streams.prometheus import STEP_BUCKETS
from tests.unit.streams.test_mut9_extras import offline

pytestmark = pytest.mark.unit

WF = "counted"
DLQ_TOPIC = "dwf.counted.dlq"
# in the order streams/prometheus.py registers them, the order of the exposition
STEP_FAMILIES = (
    "dwf_events_in",
    "dwf_events_out",
    "dwf_rule_rejections",
    "dwf_dlq",
    "dwf_step_duration_seconds",
)
# durations that land in different buckets, on a bound (counted in it: le means "at most"), above the last
DURATIONS = (0.0001, 0.0005, 0.0007, 0.001, 0.002, 0.03, 0.2, 12.0, 45.0, 0.0049, 30.0)


class Ctx:
    workflow = WF
    options = SimpleNamespace(audit_buffer_max=10)
    pipeline = SimpleNamespace(workflow=SimpleNamespace(name=WF, version=1))
    app = SimpleNamespace(task=lambda _: None)

    def topic(self, boundary: str) -> str:
        assert boundary == DLQ
        return DLQ_TOPIC


def node(path: str, branches: bool = False) -> Any:
    return SimpleNamespace(path=path, branches={"x": object()} if branches else {}, step=object())


A, B, C = node("a"), node("b", branches=True), node("c")
RULES = [
    {"rule_id": "positive", "passed": False, "severity": "reject"},
    {"rule_id": "noted", "passed": False, "severity": "warn"},  # a warning rejects nothing
    {"rule_id": "known", "passed": True, "severity": "reject"},
]


def stepped(boundary: str, forwarded: bool = False) -> StepResult:
    env: Any = SimpleNamespace(provenance={"rule_results": RULES} if boundary == REJECTED else {})
    edge: Any = SimpleNamespace(boundary=boundary) if forwarded else None
    return StepResult(boundary, env, edge=edge)


def journey(i: int) -> list[tuple[Any, StepResult, list[Any], str]]:
    """Event i's steps (node, result, the hop's sends when it ends there, its outcome), by the rule:
    every 5th is rejected at a; else a emits; then every 7th+3 does not fit b's next schema (dlq), every
    11th+4 is parked for review at b, the others are routed on by b and emitted by c."""
    if i % 5 == 0:
        return [(A, stepped(REJECTED), [], "reject")]
    steps = [(A, stepped("b_in", forwarded=True), [], "emit")]
    if i % 7 == 3:
        return [*steps, (B, stepped("c_in", forwarded=True), [(DLQ_TOPIC, b"v", None)], "dlq")]
    if i % 11 == 4:
        return [*steps, (B, stepped(REVIEW), [], "review")]
    return [
        *steps,
        (B, stepped("c_in", forwarded=True), [], "route"),
        (C, stepped("out", forwarded=True), [("dwf.counted.out", b"v", None)], "emit"),
    ]


def duration(i: int, k: int) -> float:
    return DURATIONS[(3 * i + k) % len(DURATIONS)]


def scraped(w: WorkerMetrics) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """The step families' samples in the order the exposition text lists them (no _created)."""
    text = w.metrics.render().decode()
    return [
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        if family.name in STEP_FAMILIES
        for s in family.samples
        if not s.name.endswith("_created")
    ]


def expected(events: range) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """What one observe/inc per step would expose for these events, written from the rule above."""
    first_in: list[str] = []  # steps and outcomes in the order they first came
    first_out: list[tuple[str, str]] = []
    ins: Counter[str] = Counter()
    outs: Counter[tuple[str, str]] = Counter()
    seconds: dict[str, list[float]] = {}
    for i in events:
        for k, (n, _, _, outcome) in enumerate(journey(i)):
            ins[n.path] += 1
            outs[n.path, outcome] += 1
            seconds.setdefault(n.path, []).append(duration(i, k))
            first_in += [n.path] if n.path not in first_in else []
            first_out += [(n.path, outcome)] if (n.path, outcome) not in first_out else []
    rejected = sum(1 for i in events if i % 5 == 0)

    def lab(**kw: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"workflow": WF, **kw}.items()))

    samples = [("dwf_events_in_total", lab(step=s), float(ins[s])) for s in first_in]
    samples += [("dwf_events_out_total", lab(step=s, outcome=o), float(outs[s, o])) for s, o in first_out]
    samples += [("dwf_rule_rejections_total", lab(rule="positive"), float(rejected))] if rejected else []
    samples += [("dwf_dlq_total", lab(step=s), float(outs[s, o])) for s, o in first_out if o == "dlq"]
    for s in first_in:
        for bound in (*STEP_BUCKETS, math.inf):
            le = "+Inf" if bound == math.inf else str(bound)
            samples.append(
                (
                    "dwf_step_duration_seconds_bucket",
                    lab(step=s, le=le),
                    float(sum(d <= bound for d in seconds[s])),
                )
            )
        samples.append(("dwf_step_duration_seconds_count", lab(step=s), float(len(seconds[s]))))
        samples.append(("dwf_step_duration_seconds_sum", lab(step=s), sum(seconds[s])))
    return samples


def assert_scrape(w: WorkerMetrics, events: range) -> None:
    got, want = scraped(w), expected(events)
    assert [(n, labels) for n, labels, _ in got] == [(n, labels) for n, labels, _ in want]
    counts = [(n, labels, v) for n, labels, v in got if not n.endswith("_sum")]
    assert counts == [(n, labels, v) for n, labels, v in want if not n.endswith("_sum")]
    sums = [v for n, _, v in got if n.endswith("_sum")]
    assert sums == pytest.approx([v for n, _, v in want if n.endswith("_sum")], rel=1e-12)


@pytest.mark.parametrize("batch", [1, 7, 40, 500])
def test_a_scrape_shows_every_step_of_every_event_up_to_the_last_flushed_batch(batch: int) -> None:
    w = WorkerMetrics(Ctx(), port=None)  # type: ignore[arg-type]
    n = 200
    for start in range(0, n, batch):
        for i in range(start, min(n, start + batch)):
            for k, (step, result, sends, _) in enumerate(journey(i)):
                w.on_outcome(step, result, sends, duration(i, k))
        if start:  # the batch ran but is not flushed yet: a scrape shows the batches before it only
            assert_scrape(w, range(start))
        w.flush()
        assert_scrape(w, range(min(n, start + batch)))
    w.flush()  # nothing new: nothing counted twice
    assert_scrape(w, range(n))


def test_the_expected_exposition_is_not_trivially_met() -> None:
    """The spec above, read on its own: the counts it expects for the first 12 events."""
    want = {
        (n, dict(labels).get("step"), dict(labels).get("outcome")): v for n, labels, v in expected(range(12))
    }
    assert want["dwf_events_in_total", "a", None] == 12
    assert want["dwf_events_out_total", "a", "reject"] == 3  # 0, 5, 10
    assert want["dwf_events_out_total", "b", "dlq"] == 1  # 3
    assert want["dwf_events_out_total", "b", "review"] == 1  # 4
    assert want["dwf_events_out_total", "c", "emit"] == 7
    assert want["dwf_dlq_total", "b", None] == 1


def test_each_outcome_series_is_listed_in_the_order_it_first_came() -> None:
    w = WorkerMetrics(Ctx(), port=None)  # type: ignore[arg-type]
    w.on_outcome(A, stepped(REJECTED), [], 0.001)  # a's reject before a's emit, in one batch
    w.on_outcome(B, stepped("c_in", forwarded=True), [], 0.001)
    w.on_outcome(A, stepped("b_in", forwarded=True), [], 0.001)
    w.flush()
    outs = [dict(labels) for name, labels, _ in scraped(w) if name == "dwf_events_out_total"]
    assert [(o["step"], o["outcome"]) for o in outs] == [("a", "reject"), ("b", "route"), ("a", "emit")]


def test_a_step_without_records_in_a_batch_makes_no_series() -> None:
    w = WorkerMetrics(Ctx(), port=None)  # type: ignore[arg-type]
    w.on_outcome(A, stepped("b_in", forwarded=True), [], 0.001)
    w.flush()
    w.on_outcome(B, stepped(REVIEW), [], 0.001)
    w.flush()
    got = {(name, dict(labels).get("step"), dict(labels).get("outcome")) for name, labels, _ in scraped(w)}
    assert ("dwf_events_out_total", "a", "review") not in got  # no series at 0 for what never happened
    assert ("dwf_events_out_total", "b", "emit") not in got
    assert w.metrics.value("dwf_events_in_total", workflow=WF, step="a") == 1  # not counted again
    assert w.metrics.value("dwf_events_out_total", workflow=WF, step="b", outcome="review") == 1


# -- through the real step agent ----------------------------------------------------------------------------

SPEC = """
workflow: counted
input: {amount: double, currency: string}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0"}
        - {id: known, rule: "currency in ['USD', 'EUR']"}
        - {id: noted, rule: "amount < 500.0", severity: warn}
  - triage:
      route:
        small: "amount < 100.0"
        large: "true"
"""


def test_the_fused_hop_counts_each_step_of_each_record(tmp_path: Path) -> None:
    """Claims through the worker's step agent (check and triage fused in one hop), three batches; each
    batch's records counted when it ran: check sees every record and rejects the invalid ones (each failing
    reject rule counted, the warning not), triage routes the rest."""
    runtime = offline(SPEC, tmp_path)
    steps, metrics = runtime.steps, runtime.extras.metrics.metrics
    events = [
        (5.0, "USD"),
        (-1.0, "USD"),  # positive
        (700.0, "EUR"),  # noted (warn) only: passes
        (-2.0, "GBP"),  # positive, known
        (40.0, "GBP"),  # known
        (150.0, "USD"),
        (99.0, "EUR"),
    ]
    node, topic = runtime.pipeline.entry_node, runtime.context.topic(ENTRY)
    msgs = []
    for offset, (amount, currency) in enumerate(events):
        line = json.dumps({"amount": amount, "currency": currency})
        env = admit(runtime.pipeline.workflow, line, offset, 1_000 + offset).envelope
        value = steps.serde.encode(env, runtime.topology.schema_id(ENTRY))
        msgs.append(
            SimpleNamespace(value=value, key=None, headers=[], topic=topic, partition=0, offset=offset)
        )
    ctx, now_us = steps._step_context()

    def value(name: str, **labels: str) -> float:
        return metrics.value(name, workflow=WF, **labels)

    asyncio.run(steps.handle(node, ctx, now_us, msgs[:2]))
    assert value("dwf_events_in_total", step="check") == 2
    assert value("dwf_events_out_total", step="check", outcome="reject") == 1
    asyncio.run(steps.handle(node, ctx, now_us, msgs[2:5]))
    asyncio.run(steps.handle(node, ctx, now_us, msgs[5:]))
    assert value("dwf_events_in_total", step="check") == 7
    assert value("dwf_events_out_total", step="check", outcome="emit") == 4
    assert value("dwf_events_out_total", step="check", outcome="reject") == 3
    assert value("dwf_rule_rejections_total", rule="positive") == 2
    assert value("dwf_rule_rejections_total", rule="known") == 2
    assert value("dwf_rule_rejections_total", rule="noted") == 0
    assert value("dwf_events_in_total", step="triage") == 4
    assert value("dwf_events_out_total", step="triage", outcome="route") == 4
    assert value("dwf_events_out_total", step="triage", outcome="emit") == 0
    assert value("dwf_step_duration_seconds_count", step="check") == 7
    assert value("dwf_step_duration_seconds_count", step="triage") == 4
    assert value("dwf_step_duration_seconds_bucket", step="triage", le="+Inf") == 4
    assert value("dwf_dlq_total", step="check") == 0


def test_each_flush_counts_only_the_outcomes_of_its_own_batch() -> None:
    """A flush hands the prometheus objects one count per step and outcome that came in its batch, and
    none for an outcome that came only in earlier batches (those were counted by their own flush): the
    work of a flush follows the batch, not everything the worker has seen since it started."""
    w = WorkerMetrics(Ctx(), port=None)  # type: ignore[arg-type]
    outs: list[tuple[str, str, int]] = []
    dlqs: list[tuple[str, int]] = []
    w.metrics.event_out = lambda _wf, step, outcome="emit", n=1: outs.append((step, outcome, n))  # type: ignore[method-assign]
    w.metrics.dlq = lambda _wf, step, n=1: dlqs.append((step, n))  # type: ignore[method-assign]
    batch, n = 7, 84
    for start in range(0, n, batch):
        want: Counter[tuple[str, str]] = Counter()  # in the order the outcomes first came in this batch
        for i in range(start, start + batch):
            for k, (step, result, sends, outcome) in enumerate(journey(i)):
                w.on_outcome(step, result, sends, duration(i, k))
                want[step.path, outcome] += 1
        outs.clear()
        dlqs.clear()
        w.flush()
        assert outs == [(s, o, c) for (s, o), c in want.items()]
        assert dlqs == [(s, c) for (s, o), c in want.items() if o == "dlq"]
    outs.clear()
    w.flush()  # a batch with no records: nothing to count
    assert outs == []
