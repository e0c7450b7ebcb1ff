"""Topics, their Avro schemas, and a Mermaid picture of a compiled pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dana_workflows.processors.pipeline import DLQ, ENTRY, REJECTED, RESUME, REVIEW, Pipeline
from dana_workflows.schemas.avro import envelope_schema
from dana_workflows.schemas.registry import SchemaRegistry

AUDIT_TOPIC = "audit"
DRIFT = "drift"


def topic_name(workflow: str, boundary: str, prefix: str = "dwf") -> str:
    return f"{prefix}.{workflow}.{boundary}"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    boundary: str
    topic: str
    schema: dict[str, Any] | None  # None: mixed payloads (rejected, dlq), each message names its schema id
    schema_id: int | None


class Topology:
    """Boundary -> topic and schema id, registered once in the registry."""

    def __init__(self, pipeline: Pipeline, registry: SchemaRegistry, prefix: str = "dwf") -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.prefix = prefix
        wf = pipeline.workflow.name
        self.topics: dict[str, TopicSpec] = {}
        for boundary, fields in pipeline.boundaries.items():
            schema = envelope_schema(wf, boundary, fields)
            topic = topic_name(wf, boundary, prefix)
            # TopicNameStrategy subject: what Kafka Connect, ksqlDB and kcat look up for the topic
            self.topics[boundary] = TopicSpec(
                boundary, topic, schema, registry.register(schema, f"{topic}-value")
            )
        for boundary in (REJECTED, DLQ):
            self.topics[boundary] = TopicSpec(boundary, topic_name(wf, boundary, prefix), None, None)
        if REVIEW not in self.topics:  # a ladder's review rung (docs/recovery.md): mixed, like dlq. A
            # workflow with a step or terminal branch of that name keeps its own (no ladder of it may review)
            self.topics[REVIEW] = TopicSpec(REVIEW, topic_name(wf, REVIEW, prefix), None, None)
        if pipeline.workflow.drift.monitors:
            from dana_workflows.drift.records import DRIFT_RECORD_SCHEMA

            topic = topic_name(wf, DRIFT, prefix)
            sid = registry.register(DRIFT_RECORD_SCHEMA, f"{topic}-value")
            self.topics[DRIFT] = TopicSpec(DRIFT, topic, DRIFT_RECORD_SCHEMA, sid)

    def schema_id(self, boundary: str) -> int:
        sid = self.topics[boundary].schema_id
        assert sid is not None, f"{boundary} carries mixed schemas"
        return sid

    def topic(self, boundary: str) -> str:
        return self.topics[boundary].topic

    @property
    def audit_topic(self) -> str:
        return f"{self.prefix}.{AUDIT_TOPIC}"

    @property
    def resume_topic(self) -> str:
        """Where reviewed and replayed events re-enter a worker (mixed schemas, like dlq; not a boundary
        of the pipeline, so not in ``topics``: docs/review.md)."""
        return topic_name(self.pipeline.workflow.name, RESUME, self.prefix)

    def mermaid(self) -> str:
        p = self.pipeline
        ident = {b: f"t{i}" for i, b in enumerate(self.topics)}
        lines = ["flowchart LR"]
        for b, spec in self.topics.items():
            lines.append(f'  {ident[b]}[("{spec.topic}")]')
        for i, node in enumerate(p.nodes.values()):  # nodes; drift taps are not drawn
            nid = f"s{i}"
            lines.append(f'  {nid}["{node.path} ({node.processor.kind})"]')
            lines.append(f"  {ident[node.input]} --> {nid}")
            if node.emit is not None:
                lines.append(f"  {nid} --> {ident[node.emit.boundary]}")
            for branch, edge in node.branches.items():
                lines.append(f"  {nid} -- {branch} --> {ident[edge.boundary]}")
            if node.processor.kind in ("validate", "enforce", "route"):
                lines.append(f"  {nid} -. reject .-> {ident[REJECTED]}")
            lines.append(f"  {nid} -. fail .-> {ident[DLQ]}")
        lines.append(f"  {ident[ENTRY]}:::entry")
        lines.append("  classDef entry fill:#e8f4ff")
        return "\n".join(lines)
