"""What a Kafka worker attaches beyond its step agents, as the local runtime does in streams/local/extras.py:
the LLM client (cache in a faust table), the drift tap and agent (state in a faust table), and metrics.

The step agents call it when they build each hop's StepContext (``llm``), when a record starts its hop
(``journey``: the drift values it carries), after each step of the hop (``on_step``), when the hop ends,
before its sends go out (``on_end``), when a batch's hops ran (``on_batch``: the step metrics) and as a
batch's sends go out (``batched``: the drift values of its events in one message); the worker calls
``start`` before the app starts and ``stop`` after it stopped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import Node
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.context import AgentContext, Out
from dana_workflows.streams.kafka.drift_agent import DriftAgent, DriftTap, attach_drift
from dana_workflows.streams.kafka.llm_wiring import LLMWiring, attach_llm
from dana_workflows.streams.kafka.worker_metrics import Send, Sends, WorkerMetrics

if TYPE_CHECKING:
    from dana_workflows.core.settings import Settings

__all__ = ["KafkaExtras", "Send", "Sends"]

log = logging.getLogger(__name__)


class KafkaExtras:
    def __init__(self, ctx: AgentContext, settings: Settings | None = None) -> None:
        self.ctx = ctx
        self.metrics = WorkerMetrics(ctx, ctx.options.metrics_port)
        ctx.on_poison.append(self.metrics.on_poison)
        self.llm_wiring: LLMWiring | None = attach_llm(ctx, settings)
        if self.llm_wiring is not None:  # calls per POET phase and per saving mechanism (docs/efficiency.md)
            from dana_workflows.processors.efficiency.monitor import EfficiencyCollector

            monitor = self.llm_wiring.client.efficiency.monitor
            self.metrics.metrics.registry.register(EfficiencyCollector(monitor))
        drift = attach_drift(ctx, self.metrics.metrics)
        self.drift_tap: DriftTap | None = drift[0] if drift else None
        self.drift_agent: DriftAgent | None = drift[1] if drift else None

    @property
    def llm(self) -> Any:
        """The StepContext's ``llm``: the client, or None when the workflow has no llm step."""
        return self.llm_wiring.client if self.llm_wiring is not None else None

    def journey(self, node: Node, env: Envelope, msg: Any) -> dict[str, Any] | None:
        """What a record carries along its hop: the drift values collected so far (None: no drift)."""
        return self.drift_tap.carried(node, env, msg) if self.drift_tap is not None else None

    def on_step(
        self, node: Node, result: StepResult, sends: Sends, seconds: float, journey: dict[str, Any] | None
    ) -> None:
        """After each step of a hop (``sends``: the record's outcome when the hop ends at this step)."""
        if self.drift_tap is not None and journey is not None:
            self.drift_tap.passed(node, result, journey)
        self.metrics.on_outcome(node, result, sends, seconds)

    def batched(self, topic: str, partition: int, outs: list[Out]) -> list[Out]:
        """A batch's sends from one source partition as they go out, with the drift values of the events
        whose journeys ended in its records in one message (``DriftTap.batched``)."""
        return self.drift_tap.batched(topic, partition, outs) if self.drift_tap is not None else outs

    def on_batch(self) -> None:
        """A batch's records ran their hops: count their step metrics (worker_metrics.py)."""
        self.metrics.flush()

    def on_end(self, journey: dict[str, Any] | None, result: StepResult, sends: Sends, msg: Any) -> None:
        """A hop's end (of the record ``msg``), before its sends go out: the drift values ride on, or end
        their journey and wait for the batch's drift-values message of ``msg``'s partition (``batched``)."""
        if self.drift_tap is not None and journey is not None:
            self.drift_tap.ended(journey, result, sends, (msg.topic, msg.partition))

    async def start(self) -> None:
        """Before the app starts: the drift values topic (one partition), then the metrics endpoint."""
        if self.drift_tap is not None:
            o = self.ctx.options
            await ensure_topics(
                o.bootstrap, [self.drift_tap.values_topic], 1, o.replication, security=o.security
            )
        self.metrics.start()

    async def stop(self) -> None:
        self.metrics.stop()
        if self.llm_wiring is not None:
            await self.llm_wiring.close()
