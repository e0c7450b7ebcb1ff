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
from typing import TYPE_CHECKING, Any

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import DLQ, REJECTED, Node
from dana_workflows.streams.health import Health, MetricsServer
from dana_workflows.streams.kafka.watchdog import partition_progress, watched_partitions
from dana_workflows.streams.prometheus import Metrics
from dana_workflows.workflow.ir import LLMStepIR

if TYPE_CHECKING:
    from dana_workflows.streams.kafka.app import KafkaRuntime

log = logging.getLogger(__name__)

Sends = list[tuple[str, bytes, list[tuple[str, bytes]] | None]]


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
    def __init__(self, runtime: KafkaRuntime, port: int | None, poll_s: float = 2.0) -> None:
        self.runtime = runtime
        self.workflow = runtime.pipeline.workflow.name
        self.port = port
        self.poll_s = poll_s
        self.metrics = Metrics(audit_buffer_max=runtime.options.audit_buffer_max)
        # the watchdog is built after the extras: ask it when probed
        self.health = Health(watchdog=lambda: runtime.watchdog())
        self.server: MetricsServer | None = None
        self.dlq_topic = runtime.topic(DLQ)
        ir = runtime.pipeline.workflow
        try:
            from importlib.metadata import version

            engine = version("dana-workflows")
        except Exception:
            engine = "dev"
        self.metrics.info(version=engine, workflow=ir.name, workflow_version=str(ir.version))
        runtime.app.task(self._poll)

    # -- lifecycle (worker.serve) ---------------------------------------------------------------------------
    def start(self) -> None:
        """Serve /metrics, /healthz, /readyz; a port that is taken is logged, not fatal (the worker works)."""
        audit = self.runtime.audit
        if audit is not None:
            sink, hook, metrics = audit.sink, audit.sink.on_commit, self.metrics

            def stored(batch: Any) -> Any:
                metrics.audit_insert(batch.latency_s, batch.rows)
                metrics.audit_buffer(max(0, sink.depth - batch.rows))  # the sink counts it out next
                return hook(batch) if hook is not None else None

            audit.sink.on_commit = stored
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

    # -- per record -----------------------------------------------------------------------------------------
    def on_outcome(self, node: Node, result: StepResult, sends: Sends, seconds: float) -> None:
        m, wf, step = self.metrics, self.workflow, node.path
        m.event_in(wf, step)
        m.observe_step(wf, step, seconds)
        if result.forwarded:
            if any(topic == self.dlq_topic for topic, _, _ in sends):  # did not fit the next schema
                outcome = "dlq"
            else:
                outcome = "route" if node.branches else "emit"
        elif result.boundary == REJECTED:
            outcome = "reject"
            rules = [
                r["rule_id"]
                for r in result.envelope.provenance.get("rule_results") or []
                if not r["passed"] and r["severity"] == "reject"
            ]
            if rules:
                m.rejected(wf, rules)
        else:
            outcome = "dlq"
        m.event_out(wf, step, outcome)
        if outcome == "dlq":
            m.dlq(wf, step)
        if isinstance(node.step, LLMStepIR):
            self._llm(step, result)

    def _llm(self, step: str, result: StepResult) -> None:
        for row in result.rows:
            if row.step != step or '"dwf.llm.' not in row.details:
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
        rt = self.runtime
        if rt.audit is not None:
            self.metrics.audit_buffer(rt.audit.sink.depth)
        assigned = watched_partitions(rt)
        self.health.set_ready(bool(assigned) and not rt.draining and rt.crashed is None)
        if not assigned:
            return
        for tp, hw, next_offset in await partition_progress(rt, assigned):
            self.metrics.lag(tp.topic, tp.partition, max(0, hw - next_offset))
