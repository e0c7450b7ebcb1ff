"""A warn/alert window logs one line (same words in both runtimes), counts in Prometheus, late events too.

The Kafka side drives the real ``DriftAgent.handle`` of a ``KafkaRuntime`` built without a broker: only the
committer is replaced (its section records the sends instead of producing them), so the observer, the table
state, the records' encoding and the metrics are the worker's own code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.drift import DriftRecord, log_window
from dana_workflows.drift.alerts import LOG_LEVELS
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.prometheus import Metrics
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

LOGGER = "dana_workflows.drift.alerts"
SPEC = """
workflow: alerty
input: {kind: string, ts: long}
steps:
  - check: {validate: [{id: nonempty, rule: "size(kind) > 0"}]}
drift:
  window: {kind: tumbling, size_s: 100, time_field: ts, allowed_lateness_s: 10}
  monitors:
    - {id: kinds, field: kind}
"""
PER_WINDOW = 300  # above min_count (240 for three categories at warn 0.1)
# exact counts of a, b, c per window: the reference, ok windows, one warn (PSI 0.12), one alert (PSI 0.5)
STABLE = (210, 60, 30)
MIX = {3: (165, 75, 60), 5: (90, 60, 150)}
WINDOWS = 8  # window 7 closes nothing in Kafka mode (no flush): it only moves the watermark past window 6


def values() -> list[tuple[str, int]]:
    """(kind, ts) of every event, in order, then one late event for window 0."""
    rng = random.Random(5)
    out: list[tuple[str, int]] = []
    for w in range(WINDOWS):
        a, b, c = MIX.get(w, STABLE)
        kinds = ["a"] * a + ["b"] * b + ["c"] * c
        rng.shuffle(kinds)
        out.extend((k, w * 100 + i * 100 // PER_WINDOW) for i, k in enumerate(kinds))
    out.append(("a", 5))  # window 0 closed long ago: late
    return out


def alert_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


# -- the shared function ---------------------------------------------------------------------------------


def record(level: str, psi: float | None = 0.5) -> DriftRecord:
    from dana_workflows.drift import Mover

    return DriftRecord(
        workflow="claims",
        monitor="currency_mix",
        field="currency",
        feature="categorical",
        step="normalize",
        window_start_us=1_700_000_000_000_000,
        window_end_us=1_700_003_600_000_000,
        count=6000,
        psi=psi,
        js=None if psi is None else 0.3,
        level=level,  # type: ignore[arg-type]
        warn_psi=0.1,
        alert_psi=0.2,
        reference="windows" if psi is not None else "building",
        reference_count=6000 if psi is not None else 0,
        bins=3,
        min_count=240,
        below_min_count=False,
        top_movers=(Mover("GBP", 0.1, 0.4, 0.41), Mover("USD", 0.6, 0.3, 0.2)),
        closed_by="watermark",
    )


def test_log_window_logs_one_line_for_warn_and_alert_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert log_window(record("ok", 0.01)) is None
    assert log_window(record("ok", None)) is None  # the reference being built
    warn = log_window(record("warn", 0.15))
    alert = log_window(record("alert", 0.5))
    assert alert_lines(caplog) == [(logging.WARNING, warn), (logging.ERROR, alert)]
    assert LOG_LEVELS == {"warn": logging.WARNING, "alert": logging.ERROR}
    assert alert == (
        "drift alert: claims/currency_mix (currency) window 2023-11-14T22:13:20Z..2023-11-14T23:13:20Z "
        "n=6000 psi=0.5000 js=0.3000; moved most: GBP 10.0%->40.0%, USD 60.0%->30.0%"
    )


# -- the local runtime -----------------------------------------------------------------------------------


async def run_local(tmp_path: Path) -> tuple[Any, list[AuditRow]]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    runtime = LocalRuntime(pipeline, topo, None, collect_rows(rows))
    lines = [json.dumps({"kind": k, "ts": ts}) for k, ts in values()]
    return await runtime.run(lines), rows


async def test_local_runtime_logs_each_warn_and_alert_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    summary, rows = await run_local(tmp_path)
    logged = alert_lines(caplog)
    assert [level for level, _ in logged] == [logging.WARNING, logging.ERROR]
    (_, warn), (_, alert) = logged
    assert warn.startswith(
        "drift warn: alerty/kinds (kind) window 1970-01-01T00:05:00Z..1970-01-01T00:06:40Z"
    )
    assert "n=300" in warn and "psi=0.1" in warn and "moved most: c 10.0%->20.0%" in warn
    assert alert.startswith("drift alert: alerty/kinds (kind) window 1970-01-01T00:08:20Z..")
    assert "moved most: c 10.0%->50.0%, a 70.0%->30.0%, b 20.0%->20.0%" in alert
    # the run summary shows the same lines and counts, and the audit rows carry them as reasons
    assert summary.drift_alerts == [warn, alert]
    assert summary.drift_windows == WINDOWS and summary.late_events == 1
    reasons = [r.reason for r in rows if r.kind == "drift" and r.decision != "ok"]
    assert reasons == [warn, alert]


# -- the Kafka drift agent -------------------------------------------------------------------------------


class RecordingSection:
    def __init__(self, sent: list[tuple[str, Any]]) -> None:
        self.sent = sent

    async def audit(self, rows: list[AuditRow], now: bool = False) -> None:
        self.sent.extend(("audit", r) for r in rows)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self.sent.append((topic, value))

    def done(self, offset: int) -> None:
        self.sent.append(("done", offset))


class RecordingCommitter:
    """Stands in for ``commit.Committer``: nothing is stale, a section records its sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def stale(self, msg: Any) -> bool:
        return False

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[RecordingSection]:
        yield RecordingSection(self.sent)


def offline_kafka_runtime(spec: str, tmp_path: Path) -> tuple[Any, Any, RecordingCommitter]:
    """A KafkaRuntime built for `spec` that never connects (its committer records the sends), and its
    drift agent (with metrics)."""
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = compile_pipeline(parse_spec(spec))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)  # builds, never connects
    committer = RecordingCommitter()
    runtime.context.committer = committer  # type: ignore[assignment]
    agent = runtime.extras.drift_agent
    assert agent is not None and agent.metrics is not None
    return runtime, agent, committer


async def run_kafka_agent(tmp_path: Path) -> tuple[Any, Metrics, RecordingCommitter]:
    _, agent, committer = offline_kafka_runtime(SPEC, tmp_path)
    metrics = agent.metrics
    # before any window closed, the counters are exposed at 0 (so increase() sees the first alert)
    labels = {"workflow": "alerty", "monitor": "kinds"}
    assert metrics.registry.get_sample_value("dwf_drift_alerts_total", {**labels, "level": "alert"}) == 0.0
    assert metrics.registry.get_sample_value("dwf_drift_late_events_total", {"workflow": "alerty"}) == 0.0
    # what the step agents send to the drift-values topic: the values, produced_at, the time field
    for offset, (kind, ts) in enumerate(values()):
        carried = {"v": {"kinds": kind}, "p": ts * 1_000_000, "t": ts}
        msg = SimpleNamespace(
            value=json.dumps(carried).encode(), topic=agent.tap.values_topic, partition=0, offset=offset
        )
        await agent.handle(msg)
    return agent, metrics, committer


async def test_kafka_agent_counts_alerts_and_late_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    agent, metrics, committer = await run_kafka_agent(tmp_path)
    labels = {"workflow": "alerty", "monitor": "kinds"}
    assert metrics.value("dwf_drift_alerts_total", **labels, level="warn") == 1.0
    assert metrics.value("dwf_drift_alerts_total", **labels, level="alert") == 1.0
    assert metrics.value("dwf_drift_late_events_total", workflow="alerty") == 1.0
    assert metrics.value("dwf_drift_psi", **labels) < 0.1  # window 6, back to the reference's mix
    text = metrics.render().decode()
    assert 'dwf_drift_alerts_total{level="alert",monitor="kinds",workflow="alerty"} 1.0' in text
    assert 'dwf_drift_late_events_total{workflow="alerty"} 1.0' in text
    # windows 0..6 closed by the watermark (window 7 stays open: a stream has no end)
    assert agent.windows == WINDOWS - 1 and agent.late == 1
    drift_topic = agent.records_topic
    assert sum(1 for topic, _ in committer.sent if topic == drift_topic) == WINDOWS - 1
    late_rows = [r for topic, r in committer.sent if topic == "audit" and r.kind == "drift_late"]
    assert len(late_rows) == 1
    logged = alert_lines(caplog)
    assert [level for level, _ in logged] == [logging.WARNING, logging.ERROR]
    assert agent.alerts == [line for _, line in logged]


async def test_both_runtimes_log_the_same_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    summary, _ = await run_local(tmp_path / "local")
    local = alert_lines(caplog)
    caplog.clear()
    agent, _, _ = await run_kafka_agent(tmp_path / "kafka")
    assert alert_lines(caplog) == local and len(local) == 2
    assert agent.alerts == summary.drift_alerts
