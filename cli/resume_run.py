"""What `dana-wf review` and `dana-wf dlq` share: where the items are (a run's output directory, or the
Kafka topics), the events' audit histories, and continuing events in the chosen runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_USAGE, fail, quieted
from dana_workflows.core.clock import Clock
from dana_workflows.core.settings import Settings
from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.processors.run_history import RunHistory, history_of
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import (
    AUDIT_TABLE,
    COLUMNS,
    AuditRow,
    AuditStore,
    sql_string,
    store_database,
)
from dana_workflows.sinks.reader import to_row
from dana_workflows.streams.local.outputs import read_jsonl
from dana_workflows.streams.local.resume import ResumeItem, resume_locally
from dana_workflows.streams.topology import Topology

_T = TypeVar("_T")

if TYPE_CHECKING:  # the Kafka client is imported only by the commands that read a topic
    from dana_workflows.streams.kafka.resume_topics import PoisonRecord

OutOpt = Annotated[Path, typer.Option("--out", help="the run's output directory (local runtime)")]
BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", "-b", help="Kafka bootstrap servers: use the Kafka topics, not --out"),
]
PrefixOpt = Annotated[str | None, typer.Option(help="topic prefix (default DWF_TOPIC_PREFIX, dwf)")]
AuditOpt = Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")]


@dataclass(frozen=True, slots=True)
class Where:
    """The runtime the items live in: a local run's output directory, or a Kafka cluster."""

    out_dir: Path
    broker: str | None

    def describe(self, topology: Topology, boundary: str) -> str:
        if self.broker is not None:
            return f"topic {topology.topic(boundary)}"
        return str(self.out_dir / f"{topology.topic(boundary)}.jsonl")


@dataclass(frozen=True, slots=True)
class Scope:
    """What every review and dlq command starts from: the settings, the current version of the workflow,
    its topics, and where the items are."""

    settings: Settings
    pipeline: Pipeline
    topology: Topology
    where: Where

    @classmethod
    def open(cls, spec: Path, out: Path, broker: str | None, prefix: str | None) -> Scope:
        from dana_workflows.cli.specs import pipeline_or_exit
        from dana_workflows.core.settings import load_settings

        settings = load_settings()
        pipeline: Pipeline = pipeline_or_exit(spec)
        return cls(settings, pipeline, topology_with_prefix(pipeline, settings, prefix), Where(out, broker))

    @property
    def workflow(self) -> str:
        return self.pipeline.workflow.name

    def items(self, boundary: str) -> dict[str, Envelope]:
        return latest_items(self.where, self.topology, boundary, self.settings)

    def item(self, boundary: str, event: str, listing: str) -> Envelope:
        """The event's last envelope on ``boundary``, or a usage error naming where it was looked for."""
        env = self.items(boundary).get(event)
        if env is None:
            where = self.where.describe(self.topology, boundary)
            raise fail(f"no event {event} in {where}: see {listing}", EXIT_USAGE)
        return env

    def histories_of(self, audit: str | None, run_ids: Sequence[str]) -> dict[str, RunHistory]:
        store = open_writer(audit, self.settings)
        try:
            return histories(store, self.workflow, run_ids)
        finally:
            store.close()

    def table(
        self,
        boundary: str,
        what: str,
        audit: str | None,
        columns: Sequence[str],
        row_of: Callable[[str, Envelope, RunHistory | None], list[str]],
        items: dict[str, Envelope] | None = None,
    ) -> Table | str:
        """The items on ``boundary`` (read here unless given) with their audit histories as a table, one
        row each, or the line that says there are none."""
        items = self.items(boundary) if items is None else items
        if not items:
            return f"no {what} in {self.where.describe(self.topology, boundary)}"
        known = self.histories_of(audit, list(items))
        table = Table(title=f"{boundary}: {self.workflow}")
        for col in columns:
            table.add_column(col)
        for run_id, env in items.items():
            table.add_row(*row_of(run_id, env, known.get(run_id)))
        return table


def topology_with_prefix(pipeline: Pipeline, settings: Settings, prefix: str | None) -> Topology:
    from dana_workflows.streams.app_builder import topology_for

    if prefix is not None:
        settings = settings.model_copy(update={"topic_prefix": prefix})
    return topology_for(pipeline, settings)


def latest_items(where: Where, topology: Topology, boundary: str, settings: Settings) -> dict[str, Envelope]:
    """Run id -> the last envelope a boundary's output holds for it (a file or a topic)."""
    if where.broker is None:
        if not where.out_dir.is_dir():  # a typo in --out, or another directory: not "nothing to do"
            raise fail(
                f"no folder {where.out_dir}: name the run's output folder with --out (dana-wf run writes "
                "to .dwf/out in the directory it ran in), or read the Kafka topics with --broker",
                EXIT_USAGE,
            )
        path = where.out_dir / f"{topology.topic(boundary)}.jsonl"
        if not path.exists():
            return {}
        envs = [_from_decision(rec) for rec in read_jsonl(path)]
    else:
        from dana_workflows.streams.kafka.resume_topics import read_envelopes
        from dana_workflows.streams.kafka.security import KafkaSecurity

        security = KafkaSecurity.from_settings(settings)
        envs = _on_kafka(read_envelopes(where.broker, topology, topology.topic(boundary), security))
    return {env.run_id: env for env in envs}


def _on_kafka(talk: Coroutine[Any, Any, _T]) -> _T:
    """Run one exchange with the broker, aiokafka's own "Unable connect to ..." held back: a broker that is
    down is said once, by BrokerUnavailableError's line with the fix (cli/main.py prints it)."""
    with quieted("aiokafka"):
        return asyncio.run(talk)


def items_and_poison(
    where: Where, topology: Topology, boundary: str, settings: Settings
) -> tuple[dict[str, Envelope], list[PoisonRecord]]:
    """`latest_items`, and on a topic the records a worker dead-lettered as they came (not envelopes, so not
    listed or replayable), from one read of the topic; a file holds no such records."""
    if where.broker is None:
        return latest_items(where, topology, boundary, settings), []
    from dana_workflows.streams.kafka.resume_topics import read_topic
    from dana_workflows.streams.kafka.security import KafkaSecurity

    security = KafkaSecurity.from_settings(settings)
    envs, poison = _on_kafka(read_topic(where.broker, topology, topology.topic(boundary), security))
    return {env.run_id: env for env in envs}, poison


def poison_line(topic: str, poison: Sequence[PoisonRecord]) -> str | None:
    """How many poison records `topic` holds, and the first one's place and reason; None for none."""
    if not poison:
        return None
    first = poison[0]
    return (
        f"{len(poison)} poison record(s) on {topic} too: not envelopes, so not listed and not replayable; "
        f"each one's dwf-error header says why (first: partition {first.partition} offset {first.offset}: "
        f"{first.error})"
    )


def _from_decision(rec: dict[str, object]) -> Envelope:
    """An envelope from a decision record of an output file (no chain fields: the audit has the tail)."""
    return Envelope(
        str(rec["event_id"]),
        str(rec["run_id"]),
        str(rec["workflow"]),
        int(str(rec["workflow_version"])),
        str(rec["step"]),
        dict(rec["payload"]),  # type: ignore[call-overload]
        provenance=dict(rec.get("provenance") or {}),  # type: ignore[call-overload]
    )


def histories(store: AuditStore, workflow: str, run_ids: Sequence[str]) -> dict[str, RunHistory]:
    """Each run's audit history (one query)."""
    if not run_ids:
        return {}
    runs = ", ".join(sql_string(r) for r in sorted(set(run_ids)))
    database = store_database(store)
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {database}.{AUDIT_TABLE} WHERE workflow = {sql_string(workflow)} "
        f"AND run_id IN ({runs}) ORDER BY run_id, seq"
    )
    grouped: dict[str, list[AuditRow]] = {}
    for values in store.query(sql).rows:
        row = to_row(values)
        grouped.setdefault(row.run_id, []).append(row)
    out: dict[str, RunHistory] = {}
    for run_id, rows in grouped.items():
        history = history_of(rows)
        if history is not None:
            out[run_id] = history
    return out


def at_tail(env: Envelope, history: RunHistory, version: int) -> Envelope:
    """The envelope placed at the end of its chain, in the current workflow version."""
    env.chain_seq = history.tail.seq + 1
    env.chain_hash = history.tail.hash
    env.workflow_version = version
    return env


def open_writer(dsn: str | None, settings: Settings) -> AuditStore:
    """The audit store the decisions and replays are recorded in (it must hold the run already); the
    resumed events run their steps in this process, so an embedded store is kept out of it."""
    from dana_workflows.cli.stores import open_audit_for_reading

    return open_audit_for_reading(dsn or settings.audit_dsn, steps_run_here=True)


def continue_events(
    pipeline: Pipeline,
    topology: Topology,
    settings: Settings,
    where: Where,
    store: AuditStore,
    items: Sequence[ResumeItem],
    clock: Clock,
) -> dict[str, str] | None:
    """Resume the items: in this process (rows stored, then outputs appended; returns run id -> where each
    ended), or on Kafka (sent to the resume topic for the worker; returns None)."""
    if where.broker is not None:
        from dana_workflows.streams.kafka.resume_topics import send_resumed
        from dana_workflows.streams.kafka.security import KafkaSecurity

        _on_kafka(
            send_resumed(
                where.broker,
                topology,
                [(i.envelope, i.first_row, i.point) for i in items],
                KafkaSecurity.from_settings(settings),
                partitions=settings.topic_partitions,
                replication=settings.topic_replication,
            )
        )
        return None
    return asyncio.run(_continue_locally(pipeline, topology, settings, where.out_dir, store, items, clock))


async def _continue_locally(
    pipeline: Pipeline,
    topology: Topology,
    settings: Settings,
    out_dir: Path,
    store: AuditStore,
    items: Sequence[ResumeItem],
    clock: Clock,
) -> dict[str, str]:
    from dana_workflows.streams.local.extras import attach_extras

    ctx = StepContext(clock=clock, settings=settings)
    closers = attach_extras(pipeline, ctx, settings)
    try:
        resumed = await resume_locally(pipeline, topology, out_dir, items, ctx)
    finally:
        for close in closers:
            await close()
    await asyncio.to_thread(store.insert, resumed.rows)  # one insert: all of it, or nothing
    outcomes = resumed.outputs.outcomes()
    resumed.outputs.release()
    return outcomes


def sent_already(where: Where, topology: Topology, settings: Settings, kind: str) -> dict[str, AuditRow]:
    """Kafka: run id -> the first row of each resumed event of ``kind`` on the resume topic (sent, maybe
    not finished by a worker yet). Local: nothing is in flight (one insert stores a resume whole)."""
    if where.broker is None:
        return {}
    from dana_workflows.streams.kafka.resume_topics import sent_runs

    return sent_runs(list(latest_all(where, topology, settings)), kind)


def latest_all(where: Where, topology: Topology, settings: Settings) -> list[Envelope]:
    assert where.broker is not None
    from dana_workflows.streams.kafka.resume_topics import read_envelopes
    from dana_workflows.streams.kafka.security import KafkaSecurity

    security = KafkaSecurity.from_settings(settings)
    return _on_kafka(read_envelopes(where.broker, topology, topology.resume_topic, security))


def describe_outcomes(outcomes: dict[str, str] | None, topology: Topology) -> list[str]:
    if outcomes is None:
        return [f"sent to {topology.resume_topic}: the workflow's worker continues them"]
    return [f"{run_id}: {boundary}" for run_id, boundary in outcomes.items()]
