"""Run every event of a file through the compiled pipeline, in order, in this process.

Every envelope is round-tripped through Avro at each step boundary (with the topic's schema),
so the local runtime catches exactly what Kafka mode would.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.drift.alerts import log_window
from dana_workflows.drift.observer import DRIFT_BOUNDARY, DriftObserver, DriftReport, continue_chain
from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.boundary import Boundaries, Misfit
from dana_workflows.processors.executor import execute
from dana_workflows.processors.ingest import INGEST, admit
from dana_workflows.processors.pipeline import DLQ, ENTRY, REJECTED, REVIEW, Pipeline
from dana_workflows.processors.rules import ERROR_MARK
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.local.outputs import OutputFiles
from dana_workflows.streams.local.reruns import StoredHeads
from dana_workflows.streams.topology import Topology

AuditSink = Callable[[Sequence[AuditRow]], None]


@dataclass(slots=True)
class StepStats:
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass(slots=True)
class RunSummary:
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # boundary -> count (out, branch, rejected, dlq)
    steps: dict[str, StepStats] = field(default_factory=lambda: defaultdict(StepStats))
    audit_rows: int = 0
    seconds: float = 0.0
    rejected_by_rule: Counter[str] = field(default_factory=Counter)
    errored_by_rule: Counter[str] = field(default_factory=Counter)  # could not be computed (ERROR_MARK)
    # (dlq or review, the reason) -> events: one configuration mistake sends every event there, for one reason
    stopped_by_reason: Counter[tuple[str, str]] = field(default_factory=Counter)
    drift_windows: int = 0
    drift_alerts: list[str] = field(default_factory=list)  # one line per window that warned or alerted
    late_events: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class LocalRuntime:
    def __init__(
        self,
        pipeline: Pipeline,
        topology: Topology,
        outputs: OutputFiles | None,
        audit: AuditSink,
        ctx: StepContext | None = None,
        audit_batch: int = 20_000,
    ) -> None:
        self.pipeline = pipeline
        self.topology = topology
        self.serde = EnvelopeSerde(topology.registry)
        self.outputs = outputs
        self.audit = audit
        self.ctx = ctx or StepContext(clock=wall_clock_us)
        self.audit_batch = audit_batch
        self._pending: list[AuditRow] = []
        self.summary = RunSummary()
        self.drift = DriftObserver.for_workflow(pipeline.workflow, self.ctx.state)
        # resolved once: per boundary, its consumer, that step's stats, how a pass is counted, and
        # whether drift monitors read the payload after that step
        self.summary.steps[INGEST] = StepStats()  # first in the summary's step table
        observed = self.drift.steps if self.drift is not None else frozenset()
        self._hops = {
            boundary: (
                node,
                self.summary.steps[node.path],
                "routed" if node.branches else "emitted",
                node.path in observed,
            )
            for boundary, node in ((b, pipeline.nodes[p]) for b, p in pipeline.consumers.items())
        }
        self.boundaries = Boundaries(self.serde, topology.topics)
        self.epoch = 0  # see continue_from

    def continue_from(self, heads: StoredHeads) -> None:
        """Run after what the audit store already holds of this workflow (streams/local/reruns.py): this
        run's ids get the store's next epoch, and the drift chain links to its last stored row."""
        self.epoch = heads.epoch
        if heads.drift is not None:
            continue_chain(self.ctx.state, *heads.drift)

    async def run(self, lines: Iterable[str], on_event: Callable[[int], None] | None = None) -> RunSummary:
        started = time.perf_counter()
        for ordinal, line in enumerate(lines):  # a blank line too: admission sends it to dlq, audited
            await self.process_line(line.rstrip("\n"), ordinal)
            if on_event is not None:
                on_event(ordinal)
        if self.drift is not None:
            self._drift_report(self.drift.flush(self.ctx.clock()))
        self.flush()
        if self.outputs is not None:
            self.outputs.close()
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    async def process_line(self, line: str, ordinal: int) -> None:
        s = self.summary
        s.events += 1
        t0 = time.perf_counter()
        adm = admit(self.pipeline.workflow, line, ordinal, self.ctx.clock(), self.epoch)
        s.steps[INGEST].seconds += time.perf_counter() - t0
        self._audit(adm.rows)
        if not adm.accepted:
            boundary = DLQ if adm.dead else REJECTED
            s.steps[INGEST].counts[boundary] += 1
            self._terminal(boundary, adm.envelope, adm.reasons)
            return
        s.steps[INGEST].counts["emitted"] += 1
        if self.drift is None:
            await self.process_envelope(adm.envelope, ENTRY)
            return
        values: dict[str, Any] = {}
        self.drift.values(values, adm.envelope.payload, None)
        await self.process_envelope(adm.envelope, ENTRY, values)
        report = self.drift.observe(values, adm.envelope.payload, adm.envelope.produced_at, self.ctx.clock())
        self._drift_report(report)

    def _drift_report(self, report: DriftReport) -> None:
        if not report.rows:
            return
        self._audit(report.rows)
        s = self.summary
        for record in report.records:
            s.drift_windows += 1
            line = log_window(record)  # one log line per warn/alert window, worded as in Kafka mode
            if line is not None:
                s.drift_alerts.append(line)
            if self.outputs is not None:
                self.outputs.write_record(DRIFT_BOUNDARY, record.to_record())
        s.late_events += len(report.late)

    async def process_envelope(
        self, env: Envelope, boundary: str, values: dict[str, Any] | None = None
    ) -> None:
        """Walk one envelope from `boundary` to a terminal, a rejection or the dlq."""
        hops, ctx, drift = self._hops, self.ctx, self.drift
        while True:
            env, ok = self._roundtrip(env, boundary)
            if not ok:
                return
            node, stats, forwarded, observed = hops[boundary]
            t0 = perf_counter()
            result = await execute(node, env, ctx, owned=True)  # env was just decoded: ours alone
            stats.seconds += perf_counter() - t0
            forward = result.forwarded
            stats.counts[forwarded if forward else result.boundary] += 1
            self._audit(result.rows)
            if not forward:
                self._terminal(result.boundary, result.envelope, result.reasons)
                return
            edge = result.edge
            assert edge is not None
            env, boundary = result.envelope, edge.boundary
            if observed and values is not None and drift is not None:
                drift.values(values, env.payload, node.path)
            if edge.node is None:
                env, ok = self._roundtrip(env, boundary)
                if ok:
                    self._terminal(boundary, env, [])
                return

    async def resume(self, env: Envelope, boundary: str) -> None:
        """Walk an envelope that re-enters the pipeline at ``boundary`` (a reviewer's decision, a dlq
        replay: processors/resume.py): from its consumer on, or straight to the terminal it names."""
        if boundary in self._hops:
            await self.process_envelope(env, boundary)
            return
        env, ok = self._roundtrip(env, boundary)
        if ok:
            self._audit([transition(env, "completed", boundary, self.ctx.clock(), decision=boundary)])
            self._terminal(boundary, env, [])

    def _roundtrip(self, env: Envelope, boundary: str) -> tuple[Envelope, bool]:
        """Encode with the boundary's schema and decode again; a payload that does not fit goes to dlq
        (processors/boundary.py: the policy the Kafka runtime and producer follow too)."""
        crossed = self.boundaries.roundtrip(env, boundary, self.ctx.clock)
        if not isinstance(crossed, Misfit):
            return crossed, True
        self._audit([crossed.row])
        self.summary.steps[boundary].counts[DLQ] += 1
        self._terminal(DLQ, env, [crossed.reason])
        return env, False

    def _terminal(self, boundary: str, env: Envelope, reasons: list[str]) -> None:
        self.summary.outcomes[boundary] += 1
        if boundary == REJECTED:
            for r in env.provenance.get("rule_results") or []:
                if not r["passed"] and r["severity"] == "reject":
                    self.summary.rejected_by_rule[r["rule_id"]] += 1
                if not r["passed"] and ERROR_MARK in r["message"]:
                    self.summary.errored_by_rule[r["rule_id"]] += 1
        elif boundary in (DLQ, REVIEW):
            reason = env.provenance.get("error") or (reasons[0] if reasons else "no reason recorded")
            self.summary.stopped_by_reason[(boundary, str(reason))] += 1
        if self.outputs is not None:
            self.outputs.write(boundary, env)

    def _audit(self, rows: list[AuditRow]) -> None:
        pending = self._pending
        pending.extend(rows)
        if len(pending) >= self.audit_batch:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.summary.audit_rows += len(batch)  # counted here, once per batch, not per transition
            self.audit(batch)


def collect_rows(into: list[AuditRow]) -> AuditSink:
    """An audit sink that keeps rows in memory (tests, benchmarks)."""

    def sink(rows: Sequence[AuditRow]) -> None:
        into.extend(rows)

    return sink


def noop(*_: Any) -> None:
    return None
