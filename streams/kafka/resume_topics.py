"""The Kafka side of `dana-wf review` and `dana-wf dlq`: read a mixed topic (review, dlq, resume) whole,
and send resumed events to the workflow's resume topic, where the worker's ``ResumeAgent`` takes them.

A resumed envelope carries ``processors.resume.RESUME_MARK``: the boundary it re-enters at and its first
audit row (``override``/``replayed``). The send is the unit: acknowledged by every in-sync replica, it is
on the resume topic, and a second decision or replay of the same event is refused because the CLI finds
it there (``sent_runs``) until the worker has stored its journey (docs/review.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from dana_workflows.processors.resume import RESUME_MARK, ResumePoint
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.options import all_topics
from dana_workflows.streams.kafka.partitioner import PARTITIONER
from dana_workflows.streams.kafka.security import KafkaSecurity
from dana_workflows.streams.kafka.topic_reader import read_records
from dana_workflows.streams.kafka.wire import H_ERROR, H_KIND, WireCodec, header_map
from dana_workflows.streams.topology import Topology


@dataclass(frozen=True, slots=True)
class PoisonRecord:
    """A record a worker dead-lettered as it came (not an envelope: it cannot be replayed), and why."""

    partition: int
    offset: int
    error: str


async def read_topic(
    bootstrap: str, topology: Topology, topic: str, security: KafkaSecurity
) -> tuple[list[Envelope], list[PoisonRecord]]:
    """Every decision envelope on ``topic`` (dlq, review, resume), from its beginning to its current end
    (committed records only), and apart from them the poison records (bytes kept as they came, with the
    ``dwf-error`` header that says why)."""
    codec = WireCodec(topology.registry)
    envelopes: list[Envelope] = []
    poison: list[PoisonRecord] = []
    for record in await read_records(bootstrap, topic, security):
        dead = _poison(record)
        if dead is not None:
            poison.append(dead)
            continue
        envelopes.append(codec.decode_mixed(record.value))
    return envelopes, poison


async def read_poison(bootstrap: str, topic: str, security: KafkaSecurity) -> list[PoisonRecord]:
    """The poison records on ``topic`` (its headers only: no envelope decoded), for `dana-wf status`."""
    return [dead for record in await read_records(bootstrap, topic, security) if (dead := _poison(record))]


def _poison(record: Any) -> PoisonRecord | None:
    """A record a worker dead-lettered as bytes (``dwf-kind: poison``), or None for a decision."""
    headers = header_map(record.headers)
    if headers.get(H_KIND) != "poison":
        return None
    return PoisonRecord(record.partition, record.offset, headers.get(H_ERROR, ""))


async def read_envelopes(
    bootstrap: str, topology: Topology, topic: str, security: KafkaSecurity
) -> list[Envelope]:
    """The decision envelopes of ``read_topic``, the poison records left out."""
    envelopes, _ = await read_topic(bootstrap, topology, topic, security)
    return envelopes


def sent_runs(envelopes: Sequence[Envelope], kind: str) -> dict[str, AuditRow]:
    """Run id -> the first row of each resumed envelope of ``kind`` (override or replayed) on the resume
    topic: what was sent, whether or not the worker has finished it."""
    out: dict[str, AuditRow] = {}
    for env in envelopes:
        mark = env.provenance.get(RESUME_MARK)
        row = mark.get("row") if isinstance(mark, dict) else None
        if isinstance(row, dict) and row.get("kind") == kind:
            out.setdefault(env.run_id, AuditRow.from_mapping(row))
    return out


async def send_resumed(
    bootstrap: str,
    topology: Topology,
    items: Sequence[tuple[Envelope, AuditRow, ResumePoint]],
    security: KafkaSecurity,
    *,
    partitions: int,
    replication: int,
) -> None:
    """Each envelope, marked with where it re-enters and its first row, onto the resume topic (keyed by
    run id, acknowledged by all in-sync replicas before this returns)."""
    await ensure_topics(bootstrap, all_topics(topology), partitions, replication, security=security)
    codec = WireCodec(topology.registry)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        partitioner=PARTITIONER,  # the run id's partition as the workers pick it (partitioner.py)
        **security.aiokafka_kwargs(),
    )
    await producer.start()
    try:
        for env, row, point in items:
            env.provenance[RESUME_MARK] = {"boundary": point.boundary, "row": row.as_dict()}
            await producer.send_and_wait(
                topology.resume_topic, codec.encode_mixed(env), key=env.run_id.encode()
            )
    finally:
        await producer.stop()
