"""What a Kafka worker needs beyond the spec: broker, guarantee, topics, timings, security, layout.

Defaults come from Settings (``DWF_*``) and each command may override them. Below everything else of the
worker, so the worker's parts read their options without importing the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dana_workflows.core.settings import Settings, check_topic_prefix
from dana_workflows.streams.kafka.security import KafkaSecurity
from dana_workflows.streams.topology import Topology

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"


# faust's broker_request_timeout (the worker leaves its default): its aiokafka driver refuses a session
# timeout above it with ImproperlyConfigured while the app starts
REQUEST_TIMEOUT_S = 90.0


@dataclass
class KafkaOptions:
    """What a worker needs beyond the spec; defaults from Settings, overridable per command."""

    bootstrap: str
    guarantee: str = AT_LEAST_ONCE
    partitions: int = 4
    replication: int = 1
    prefix: str = "dwf"
    data_dir: Path = Path(".dwf")
    group_id: str | None = None  # consumer group (faust app id); default `<prefix>-<workflow>`
    session_timeout_s: float = 10.0  # how long the group waits for a dead worker before rebalancing
    heartbeat_s: float = 1.0
    commit_interval_s: float = 1.0
    stall_s: float = 60.0  # the watchdog's threshold
    metrics_port: int | None = None  # /metrics, /healthz, /readyz; 0 = a free port; None = none
    audit_batch_size: int = 20_000
    audit_interval_s: float = 1.0
    audit_buffer_max: int = 100_000
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # TLS/SASL of every client (security.py)
    # consecutive steps run as one chain in the agent of the input topic (docs/kafka-runtime.md, "Fusion");
    # False: one agent and one topic per step (the per-step layout)
    fuse: bool = True
    # fused, an llm step still gets its own topic and agent: the chain stops before it (separate scaling)
    llm_hops: bool = False
    max_batch: int = 500  # records an agent takes at once when they wait in its channel (agent_loop.py)
    # the step agents take fetched records in batches below faust's per-record delivery (intake.py);
    # Settings.kafka_intake (DWF_KAFKA_INTAKE=false) keeps faust's delivery
    intake: bool = True

    def __post_init__(self) -> None:
        if self.guarantee not in (AT_LEAST_ONCE, EXACTLY_ONCE):
            raise ValueError(f"processing guarantee {self.guarantee!r}: use at_least_once or exactly_once")
        if self.max_batch < 1:
            raise ValueError(f"max batch {self.max_batch}: an agent takes at least one record at a time")
        for name, value in (("partitions", self.partitions), ("replication", self.replication)):
            if value < 1:  # faust's own "Topic cannot have zero partitions" came as a traceback
                raise ValueError(f"--{name} {value}: a topic needs at least 1")
        for name, seconds in (
            ("session-timeout", self.session_timeout_s),
            ("commit-interval", self.commit_interval_s),
        ):
            # the group coordinator's fatal InvalidSessionTimeoutError left the worker hanging
            if seconds <= 0:
                raise ValueError(f"--{name} {seconds:g}: give a number of seconds above 0")
        if self.session_timeout_s > REQUEST_TIMEOUT_S:  # faust refused it only at start, after tracebacks
            raise ValueError(
                f"--session-timeout {self.session_timeout_s:g}: at most {REQUEST_TIMEOUT_S:g} s, the "
                "worker's broker request timeout (faust's broker_request_timeout)"
            )
        check_topic_prefix(self.prefix, "--prefix")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> KafkaOptions:
        base: dict[str, Any] = {
            "bootstrap": settings.kafka_bootstrap_servers,
            "guarantee": settings.processing_guarantee,
            "partitions": settings.topic_partitions,
            "replication": settings.topic_replication,
            "prefix": settings.topic_prefix,
            "data_dir": settings.data_dir,
            "audit_batch_size": settings.audit_batch_size,
            "audit_interval_s": settings.audit_batch_interval_s,
            "audit_buffer_max": settings.audit_buffer_max,
            "metrics_port": settings.metrics_port,
            "intake": settings.kafka_intake,
            "security": KafkaSecurity.from_settings(settings),
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @property
    def exactly_once(self) -> bool:
        return self.guarantee == EXACTLY_ONCE

    def app_id(self, workflow: str) -> str:
        return self.group_id or f"{self.prefix}-{workflow}"


def all_topics(topology: Topology) -> list[str]:
    return [spec.topic for spec in topology.topics.values()] + [topology.audit_topic, topology.resume_topic]
