"""What a Kafka worker attaches beyond its step agents, as the local runtime does in streams/local/extras.py:
the LLM client (cache in a faust table), the drift tap and agent (state in a faust table), and metrics.

The runtime holds one ``KafkaExtras`` and calls it at four places: building each agent's StepContext
(``llm``), after each record's outcome is decided and before its sends go out (``on_outcome``), on a
poison record (``on_poison``), and around the worker's life (``start`` before the app starts, ``stop``
after it stopped).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import Node
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.drift_agent import DriftAgent, DriftTap, attach_drift
from dana_workflows.streams.kafka.llm_wiring import LLMWiring, attach_llm
from dana_workflows.streams.kafka.worker_metrics import Sends, WorkerMetrics

if TYPE_CHECKING:
    from dana_workflows.core.settings import Settings
    from dana_workflows.streams.kafka.app import KafkaRuntime

log = logging.getLogger(__name__)


class KafkaExtras:
    def __init__(self, runtime: KafkaRuntime, settings: Settings | None = None) -> None:
        self.runtime = runtime
        port = getattr(runtime.options, "metrics_port", None)
        self.metrics = WorkerMetrics(runtime, port)
        self.llm_wiring: LLMWiring | None = attach_llm(runtime, settings)
        drift = attach_drift(runtime, self.metrics.metrics)
        self.drift_tap: DriftTap | None = drift[0] if drift else None
        self.drift_agent: DriftAgent | None = drift[1] if drift else None

    @property
    def llm(self) -> Any:
        """The StepContext's ``llm``: the client, or None when the workflow has no llm step."""
        return self.llm_wiring.client if self.llm_wiring is not None else None

    def on_outcome(
        self, node: Node, env: Envelope, msg: Any, result: StepResult, sends: Sends, seconds: float
    ) -> None:
        if self.drift_tap is not None:
            self.drift_tap.on_outcome(node, env, msg, result, sends)
        self.metrics.on_outcome(node, result, sends, seconds)

    def on_poison(self, msg: Any) -> None:
        self.metrics.on_poison(msg)

    async def start(self) -> None:
        """Before the app starts: the drift values topic (one partition), then the metrics endpoint."""
        if self.drift_tap is not None:
            o = self.runtime.options
            await ensure_topics(
                o.bootstrap, [self.drift_tap.values_topic], 1, o.replication, security=o.security
            )
        self.metrics.start()

    async def stop(self) -> None:
        self.metrics.stop()
        if self.llm_wiring is not None:
            await self.llm_wiring.close()
