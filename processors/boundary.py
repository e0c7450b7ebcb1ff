"""Crossing a step boundary: the one policy both runtimes and the producer follow.

An envelope that leaves a step for the next boundary is encoded with that boundary's Avro schema (the
Kafka runtime sends those bytes; the local runtime and a fused Kafka chain decode them again at once, so
the next step sees exactly what a consumer of the topic would). A payload that does not fit the schema
is not an error of the worker: the envelope goes to the dlq with the reason in its provenance and one
``dlq`` audit row, worded the same wherever it happens. Before this module the three places that did
this kept copies that comments asked to keep in step; now parity between the runtimes rests on this code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from dana_workflows.core.clock import Clock
from dana_workflows.processors.audit_trail import transition
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.sinks.audit_model import AuditRow

# what encoding a payload that does not match the schema raises (fastavro and the compiled codec)
ENCODE_ERRORS: tuple[type[Exception], ...] = (TypeError, ValueError, KeyError)


class TopicSpecLike(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def schema_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Misfit:
    """A payload that did not fit its boundary's schema: why, and the audit row that sends it to dlq."""

    reason: str
    row: AuditRow


# how a misfit's reason begins: a dlq replay (processors/resume.py) crosses that boundary again
MISFIT_REASON = "payload does not fit the Avro schema of"


def misfit(env: Envelope, boundary: str, topic: str, exc: Exception, now_us: int) -> Misfit:
    """Mark ``env`` for the dlq: the reason goes into its provenance and into one ``dlq`` audit row."""
    reason = f"{MISFIT_REASON} '{topic}': {exc}"
    env.provenance["error"] = reason
    return Misfit(reason, transition(env, "dlq", boundary, now_us, decision="dlq", reason=reason))


class Boundaries:
    """Encode (or round-trip) envelopes for the typed boundaries of one topology."""

    def __init__(self, serde: EnvelopeSerde, topics: Mapping[str, TopicSpecLike]) -> None:
        self.serde = serde
        self._topics = {b: spec.topic for b, spec in topics.items()}
        self._schema_ids = {b: spec.schema_id for b, spec in topics.items() if spec.schema_id is not None}

    def encode(self, env: Envelope, boundary: str, clock: Clock) -> bytes | Misfit:
        """The bytes for ``boundary``'s topic, or the misfit that sends ``env`` to the dlq instead."""
        try:
            return self.serde.encode(env, self._schema_ids[boundary])
        except ENCODE_ERRORS as exc:
            return misfit(env, boundary, self._topics[boundary], exc, clock())

    def roundtrip(self, env: Envelope, boundary: str, clock: Clock) -> Envelope | Misfit:
        """What a consumer of ``boundary``'s topic would decode, or the misfit (as ``encode``)."""
        try:
            return self.serde.roundtrip(env, self._schema_ids[boundary])
        except ENCODE_ERRORS as exc:
            return misfit(env, boundary, self._topics[boundary], exc, clock())
