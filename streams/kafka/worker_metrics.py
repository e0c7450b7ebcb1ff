"""Metrics, health and readiness of a Kafka worker (``streams/prometheus.py``, ``streams/health.py``).

What feeds what:
* every record an agent handles: events in/out per step and outcome, rejections per failing rule, dlq,
  step latency (the time of ``execute``), and for llm steps the call, tokens, cost, 429s and cache hits
  read from the audit details the LLM client wrote (``gen_ai.*`` / ``dwf.llm.*``);
* the audit sink: buffer depth (polled) and each stored batch's insert latency and rows (its commit hook);
* the drift agent: the PSI of each closed window (``streams/kafka/drift_agent.py``);
* a task on the worker's loop, every ``poll_s``: consumer lag per assigned partition (high watermark minus
  the next offset the worker has not handled), and readiness (partitions assigned, not draining);
* liveness: the stall watchdog (``streams/kafka/watchdog.py``) behind /healthz.
The HTTP side door runs in its own thread (MetricsServer), so it answers while the loop is stuck.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import DLQ, REJECTED, REVIEW, Node
from dana_workflows.streams.health import Health, MetricsServer
from dana_workflows.streams.kafka.context import AgentContext
from dana_workflows.streams.kafka.watchdog import partition_progress, watched_partitions
from dana_workflows.streams.prometheus import Metrics
from dana_workflows.workflow.ir import LLMStepIR

if TYPE_CHECKING:
    from dana_workflows.sinks.batching import CommittedBatch
    from dana_workflows.streams.kafka.audit_agent import AuditSinkAgent

log = logging.getLogger(__name__)

Send = tuple[str, bytes, list[tuple[str, bytes]] | None]  # topic, value, headers
Sends = list[Send]


# A step's outcomes, as indexes into its counts (``_StepTally.counts``) and as the names ``event_out`` takes.
EMIT, ROUTE, REJECT, TO_DLQ, TO_REVIEW = range(5)
OUTCOME_NAMES = ("emit", "route", "reject", "dlq", "review")


class _StepTally:
    """One step's records since the last flush: their durations and their counts by outcome. Made once per
    step, the first time it runs, with what its node decides for every record (a forwarded record is a
    ``route`` on a step with branches, else an ``emit``; an llm step's calls are counted from its rows)."""

    __slots__ = ("counts", "forward", "llm", "seconds", "step")

    def __init__(self, node: Node) -> None:
        self.step = node.path
        self.forward = ROUTE if node.branches else EMIT
        self.llm = isinstance(node.step, LLMStepIR)
        self.seconds: list[float] = []
        self.counts = [0] * len(OUTCOME_NAMES)


def llm_status(details: dict[str, Any]) -> str:
    """The final status of one call, in the set ``Metrics.llm_call`` accepts."""
    if details.get("dwf.llm.outcome") == "ok":
        return "ok"
    kind = str(details.get("error.type", ""))
    if "timeout" in kind:
        return "timeout"
    if kind == "rate_limited":
        return "rate_limited"
    if kind == "output_invalid":
        return "invalid_output"
    return "error"


class WorkerMetrics:
    def __init__(self, ctx: AgentContext, port: int | None, poll_s: float = 2.0) -> None:
        self.ctx = ctx
        self.workflow = ctx.workflow
        self.port = port
        self.poll_s = poll_s
        self.metrics = Metrics(audit_buffer_max=ctx.options.audit_buffer_max)
        self.audit: AuditSinkAgent | None = None
        self._watchdog: Callable[[], str | None] = lambda: None
        self.health = Health(watchdog=lambda: self._watchdog())
        self.server: MetricsServer | None = None
        self.dlq_topic = ctx.topic(DLQ)
        self._steps: dict[str, _StepTally] = {}  # by node path, in the order the steps first ran
        self._order: list[tuple[_StepTally, int]] = []  # since the last flush: each step's outcomes
        self._rejected: dict[str, int] = {}  # since the last flush, by rule
        ir = ctx.pipeline.workflow
        try:
            from importlib.metadata import version

            engine = version("dana-workflows")
        except Exception:
            engine = "dev"
        self.metrics.info(version=engine, workflow=ir.name, workflow_version=str(ir.version))
        ctx.app.task(self._poll)

    def attach(self, audit: AuditSinkAgent | None, watchdog: Callable[[], str | None]) -> None:
        """The parts built after the metrics: the audit sink (its stored batches) and the stall watchdog
        (behind /healthz)."""
        self.audit = audit
        self._watchdog = watchdog
        if audit is not None:
            audit.on_stored.append(self._stored)

    def _stored(self, batch: CommittedBatch) -> None:
        assert self.audit is not None
        self.metrics.audit_insert(batch.latency_s, batch.rows)
        self.metrics.audit_buffer(max(0, self.audit.sink.depth - batch.rows))  # the sink counts it out next

    # -- lifecycle (worker.serve) ---------------------------------------------------------------------------
    def start(self) -> None:
        """Serve /metrics, /healthz, /readyz; a port that is taken is logged, not fatal (the worker works)."""
        if self.port is None:
            return
        try:
            self.server = MetricsServer(self.metrics, self.health, port=self.port).start()
        except OSError as exc:
            log.error("%s; the worker runs without its metrics endpoint", exc)
            return
        log.warning("metrics and health on %s (/metrics, /healthz, /readyz)", self.server.url)

    def stop(self) -> None:
        self.health.set_ready(False)
        if self.server is not None:
            self.server.stop()
            self.server = None

    # -- per record, counted per batch ----------------------------------------------------------------------
    # prometheus_client's labels() lookup cost ~10% of a fused worker's CPU when it ran for every step of
    # every record (docs/performance.md, Kafka runtime): the records of a batch are tallied here and counted
    # by ``flush`` at the batch's end, one labels() call per step and outcome. The tally itself runs once a
    # step of every record (~10% of the worker's hop as a dict of lists and tuple keys, docs/performance.md,
    # session 14): so a list append and an int in a list, on a tally object looked up once by the step's path.
    def on_outcome(self, node: Node, result: StepResult, sends: Sends, seconds: float) -> None:
        tally = self._steps.get(node.path)
        if tally is None:
            tally = self._steps[node.path] = _StepTally(node)
        tally.seconds.append(seconds)
        if result.edge is not None:  # forwarded (StepResult.forwarded, without the property's call)
            outcome = tally.forward
            for topic, _, _ in sends:  # sends: the hop's outcome when it ends at this step, else none
                if topic == self.dlq_topic:  # did not fit the next schema
                    outcome = TO_DLQ
        elif result.boundary == REVIEW:
            outcome = TO_REVIEW
        elif result.boundary == REJECTED:
            outcome = REJECT
            rejected = self._rejected
            for r in result.envelope.provenance.get("rule_results") or []:
                if not r["passed"] and r["severity"] == "reject":
                    rejected[r["rule_id"]] = rejected.get(r["rule_id"], 0) + 1
        else:
            outcome = TO_DLQ
        counts = tally.counts
        if counts[outcome]:
            counts[outcome] += 1
        else:  # the outcome's first in this batch: flush counts outcomes in the order they first came,
            counts[outcome] = 1  # so a scrape lists a family's series in the order they first happened
            self._order.append((tally, outcome))
        for row in result.rows:
            if row.kind == "recovery":  # the ladder's rung attempts (processors/executor.py)
                d = json.loads(row.details)
                self.metrics.recovery(
                    self.workflow, row.step, row.decision, str(d.get("error_class")), bool(d.get("succeeded"))
                )
        if tally.llm:
            self._llm(tally.step, result)

    def flush(self) -> None:
        """Count what the batch's records tallied (the step agents call it when a batch is handled)."""
        m, wf = self.metrics, self.workflow
        for tally in self._steps.values():
            if tally.seconds:  # else the step ran no record of this batch: nothing to count, no series
                m.event_in(wf, tally.step, len(tally.seconds))
                m.observe_steps(wf, tally.step, tally.seconds)
                tally.seconds = []
        for tally, outcome in self._order:
            n, tally.counts[outcome] = tally.counts[outcome], 0
            m.event_out(wf, tally.step, OUTCOME_NAMES[outcome], n)
            if outcome == TO_DLQ:
                m.dlq(wf, tally.step, n)
        self._order = []
        if self._rejected:
            for rule, n in self._rejected.items():
                m.rejected(wf, rule, n)
            self._rejected = {}

    def _llm(self, step: str, result: StepResult) -> None:
        # an llm step's phase rows (perceive, operate, enforce: processors/executor.py) repeat the call's
        # fields; the call is counted once, from the step's own row
        phases = {p.name for p in result.outcome.phases} if result.outcome is not None else set()
        for row in result.rows:
            if row.step != step or row.kind in phases or '"dwf.llm.' not in row.details:
                continue
            d = json.loads(row.details)
            if d.get("dwf.llm.outcome") == "skipped":
                continue
            model = str(d.get("dwf.llm.model_used") or d.get("gen_ai.request.model") or "")
            for _ in range(int(d.get("dwf.llm.rate_limited") or 0)):
                self.metrics.llm_rate_limited(self.workflow, step, model)
            self.metrics.llm_call(
                self.workflow,
                step,
                model,
                seconds=float(d.get("dwf.llm.latency_ms") or 0.0) / 1000.0,
                status=llm_status(d),
                input_tokens=int(d.get("gen_ai.usage.input_tokens") or 0),
                output_tokens=int(d.get("gen_ai.usage.output_tokens") or 0),
                cost_usd=float(d.get("dwf.llm.cost_usd") or 0.0),
                cached=bool(d.get("dwf.llm.cache_hit")),
            )

    def on_poison(self, msg: Any) -> None:
        self.metrics.dlq(self.workflow, "deserialize")

    # -- periodic -------------------------------------------------------------------------------------------
    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll()
            except Exception as exc:  # a metrics hiccup must not stop the worker
                log.debug("metrics poll failed: %r", exc)

    async def poll(self) -> None:
        ctx = self.ctx
        if self.audit is not None:
            self.metrics.audit_buffer(self.audit.sink.depth)
        assigned = watched_partitions(ctx)
        self.health.set_ready(bool(assigned) and not ctx.state.draining and ctx.state.crashed is None)
        if not assigned:
            return
        for tp, hw, next_offset in await partition_progress(ctx, assigned):
            self.metrics.lag(tp.topic, tp.partition, max(0, hw - next_offset))
