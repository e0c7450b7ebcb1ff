"""The envelope every event travels in, between steps and across topics.

A plain dataclass (hot path): pydantic stays at the edges. `from_record` (every Avro decode) stores the
slots directly instead of calling the 11-argument __init__: -4.2k of 742k instructions an event on the
claims example (docs/performance.md, "Session 10: shared processing").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

GENESIS_HASH = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _micros(value: Any) -> int:
    """fastavro returns timestamp-micros as datetime; the envelope keeps plain integers."""
    return (value - _EPOCH) // _MICRO if isinstance(value, datetime) else int(value)


@dataclass(slots=True)
class Envelope:
    """One event at one step boundary.

    ``chain_seq``/``chain_hash`` carry the run's audit hash chain from step to step, so that
    agents on different workers extend the same chain without asking the store.
    """

    event_id: str
    run_id: str
    workflow: str
    workflow_version: int
    step: str
    payload: dict[str, Any]
    produced_at: int = 0  # microseconds since the epoch
    attempt: int = 0
    provenance: dict[str, Any] = field(default_factory=dict)
    chain_seq: int = 0
    chain_hash: str = GENESIS_HASH

    def evolve(self, **changes: Any) -> Envelope:
        return dataclasses.replace(self, **changes)

    def to_record(self) -> dict[str, Any]:
        """The Avro record form (see schemas/envelope.avsc)."""
        return {
            "event_id": self.event_id,
            "run_id": self.run_id,
            "workflow": self.workflow,
            "workflow_version": self.workflow_version,
            "step": self.step,
            "attempt": self.attempt,
            "produced_at": self.produced_at,
            "payload": self.payload,
            "provenance": self.provenance,
            "chain_seq": self.chain_seq,
            "chain_hash": self.chain_hash,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Envelope:
        # Runs once per Avro decode, ~5 times per event: the slots stored directly, as
        # processors.audit_trail.transition does for rows, instead of an 11-argument __init__
        # (docs/performance.md, "Session 10: shared processing"). test_to_record_and_back holds it to
        # every field: a field added to the class and not here is unset, and that test fails.
        env = _new_envelope(cls)
        env.event_id = rec["event_id"]
        env.run_id = rec["run_id"]
        env.workflow = rec["workflow"]
        env.workflow_version = rec["workflow_version"]
        env.step = rec["step"]
        env.payload = rec["payload"]
        produced_at = rec["produced_at"]
        env.produced_at = produced_at if type(produced_at) is int else _micros(produced_at)
        env.attempt = rec["attempt"]
        env.provenance = rec.get("provenance") or {}
        env.chain_seq = rec.get("chain_seq", 0)
        env.chain_hash = rec.get("chain_hash", GENESIS_HASH)
        return env


_new_envelope = object.__new__
