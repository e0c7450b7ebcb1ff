"""`dana-wf produce`: admit each line of a JSONL file and produce it as an Avro envelope.

Admission is ``processors.ingest.admit``, the same call the local runtime makes, so a malformed line
gets the same verdict either way: accepted envelopes go to `dwf.<wf>.in`, ill-typed lines to `rejected`,
unparseable ones to `dlq`, and the ingest audit rows to `dwf.audit`. Every event message is keyed by run
id, so one run's records stay in order on one partition. The ingest audit rows of up to
``AUDIT_EVERY_LINES`` lines travel in one ``dwf.AuditBatch`` message (keyed by the input's name).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.processors.boundary import Boundaries, Misfit
from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import DLQ, ENTRY, REJECTED, Pipeline
from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.streams.kafka.admin import BrokerUnavailableError, broker_hint, ensure_topics
from dana_workflows.streams.kafka.commit import AUDIT_MESSAGE_BYTES
from dana_workflows.streams.kafka.options import all_topics
from dana_workflows.streams.kafka.partitioner import PARTITIONER
from dana_workflows.streams.kafka.security import client_security
from dana_workflows.streams.kafka.wire import AuditBatchBuilder, WireCodec, source_headers
from dana_workflows.streams.topology import Topology

AUDIT_EVERY_LINES = 200


@dataclass
class ProduceSummary:
    lines: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"in": 0, REJECTED: 0, DLQ: 0})
    audit_rows: int = 0
    seconds: float = 0.0
    created_topics: list[str] = field(default_factory=list)  # made here: no worker had made them yet


async def produce_lines(
    pipeline: Pipeline,
    topology: Topology,
    bootstrap: str,
    lines: Iterable[str],
    *,
    partitions: int = 4,
    replication: int = 1,
    clock: Clock = wall_clock_us,
    source: str = "<stdin>",
    on_line: Callable[[int], None] | None = None,
    on_audit_flushed: Callable[[], None] | None = None,
    rate: float | None = None,
    epoch: int = 0,
) -> ProduceSummary:
    """``rate``: at most this many lines a second (a steady offered load), else as fast as possible.
    ``epoch``: N > 0 runs the input again, each event under the run id ``<its id>-N`` (docs/audit.md,
    "Running an input again"), as a later `dana-wf run` into the same store gets from its store."""
    security = client_security()  # the same DWF_KAFKA_* TLS/SASL as the workers, read once
    created = await ensure_topics(bootstrap, all_topics(topology), partitions, replication, security=security)
    codec = WireCodec(topology.registry)
    boundaries = Boundaries(EnvelopeSerde(topology.registry), topology.topics)
    ir = pipeline.workflow
    in_sid = topology.schema_id(ENTRY)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_MESSAGE_BYTES,  # = the topics' max.message.bytes (admin.py)
        partitioner=PARTITIONER,  # the workers' partition of a run id (partitioner.py)
        **security.aiokafka_kwargs(),
    )
    try:
        await producer.start()
    except KafkaConnectionError:
        raise BrokerUnavailableError(broker_hint(bootstrap, security)) from None
    summary = ProduceSummary(created_topics=created)
    started = time.perf_counter()
    pending: list[asyncio.Future[object]] = []
    audit, audit_key, audit_lines = AuditBatchBuilder(codec), f"ingest:{source}".encode(), 0
    unsent: bytes | None = None  # an audit batch taken from the builder, not yet given to the producer
    try:
        for ordinal, raw in enumerate(lines):
            line = raw.rstrip("\n")  # a blank line too: admission sends it to dlq, audited
            summary.lines += 1
            adm = admit(ir, line, ordinal, clock(), epoch)
            env, rows = adm.envelope, adm.rows
            key = env.run_id.encode()
            headers = source_headers("decision", source, -1, ordinal, "; ".join(adm.reasons), None)
            if adm.accepted:
                encoded = boundaries.encode(env, ENTRY, clock)  # the policy both runtimes follow
                if isinstance(encoded, Misfit):
                    rows.append(encoded.row)
                    headers = source_headers("decision", source, -1, ordinal, encoded.reason, in_sid)
                    value, target = codec.encode_mixed(env), DLQ
                else:
                    value, target = encoded, ENTRY
            else:
                value, target = codec.encode_mixed(env), DLQ if adm.dead else REJECTED
            summary.outcomes[target] += 1
            pending.append(
                await producer.send(
                    topology.topic(target), value, key=key, headers=None if target == ENTRY else headers
                )
            )
            audit.add(rows)
            summary.audit_rows += len(rows)
            if on_line is not None:  # sent, its rows in hand: what an interruption reports as produced
                on_line(ordinal)
            audit_lines += 1
            if audit_lines >= AUDIT_EVERY_LINES or audit.size >= AUDIT_MESSAGE_BYTES:
                unsent = audit.take()  # until the producer holds it: a cancel inside send leaves it here
                pending.append(await producer.send(topology.audit_topic, unsent, key=audit_key))
                unsent, audit_lines = None, 0
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending.clear()
            if rate is not None:  # the time this line is due at; sleep until then
                ahead = started + summary.lines / rate - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)
    finally:
        # Also when interrupted (Ctrl-C cancels this task; an error at a later line): the ingest rows of every
        # line sent so far go out before the producer stops, else the events already on `.in` reach the audit
        # without their `received` rows and `audit verify` reads those runs as rows removed.
        try:
            for batch in (unsent, audit.take() if len(audit) else None):
                if batch is not None:
                    pending.append(await producer.send(topology.audit_topic, batch, key=audit_key))
            await producer.flush()
            await asyncio.gather(*pending)
            if on_audit_flushed is not None:  # the broker holds every row of every line on_line reported
                on_audit_flushed()
        finally:
            await producer.stop()
    summary.seconds = time.perf_counter() - started
    return summary


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)
