"""`dana-wf status`: a workflow running on Kafka, seen from the broker: lag per topic and partition, outcomes
so far, and whether every event received has been decided (docs/kafka-runtime.md, "Status")."""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_FAILURE, OutputConsole, fail, quieted
from dana_workflows.cli.specs import pipeline_or_exit

if TYPE_CHECKING:
    from dana_workflows.streams.status import NoEntryTopic

console = OutputConsole()
err = OutputConsole(stderr=True, soft_wrap=True)


def no_topics_line(exc: NoEntryTopic, prefix: str, bootstrap: str) -> str:
    """No entry topic under ``prefix``: the prefixes that have this workflow's entry topic, the close ones
    first (a misspelt --prefix is the usual cause)."""
    suffix = exc.entry_topic[len(prefix) :]  # ".<workflow>.in"
    prefixes = sorted(t[: -len(suffix)] for t in exc.existing if t.endswith(suffix) and len(t) > len(suffix))
    close = difflib.get_close_matches(prefix, prefixes, n=3)
    if close:
        hint = "did you mean " + " or ".join(repr(p) for p in close) + "?"
    elif prefixes:
        shown = ", ".join(prefixes[:5]) + (f" and {len(prefixes) - 5} more" if len(prefixes) > 5 else "")
        hint = f"prefixes with this workflow's topics: {shown}"
    else:
        hint = "no prefix has this workflow's topics yet: `dana-wf produce` or a worker creates them"
    return (
        f"no topic {exc.entry_topic} on {bootstrap}: nothing was produced under prefix {prefix!r} "
        f"(check --prefix; {hint})"
    )


def verdict(lag: int, poison: int, dlq_topic: str) -> str:
    """The status line's end: whether every event received has an outcome. Poison records on the dlq do
    not count as one: their bytes could not be read, so their events (if any) have no audit outcome and
    cannot be replayed (newcomer4 N4-1: 1,981 of them, and this line said all was well)."""
    waiting = "every event received has an outcome" if lag == 0 else f"{lag} records still to handle"
    if poison == 0:
        return waiting
    waiting = "no record waits" if lag == 0 else waiting
    return (
        f"{waiting}, but {poison} record(s) on {dlq_topic} are poison: bytes no worker could read, with no "
        "audit outcome and not replayable; `dana-wf dlq list --broker` lists them with why "
        "(docs/kafka-runtime.md, Poison records)"
    )


def status_command(
    spec: Annotated[Path, typer.Argument(help="workflow spec (YAML)")],
    broker: Annotated[
        str | None,
        typer.Option("--broker", "-b", help="bootstrap servers (default DWF_KAFKA_BOOTSTRAP_SERVERS)"),
    ] = None,
    prefix: Annotated[str | None, typer.Option(help="topic prefix (default DWF_TOPIC_PREFIX, dwf)")] = None,
    group: Annotated[str | None, typer.Option(help="consumer group id (default <prefix>-<workflow>)")] = None,
) -> None:
    """Lag per topic and partition and the outcomes so far of a workflow running on Kafka."""
    from aiokafka.errors import KafkaError

    from dana_workflows.core.settings import load_settings
    from dana_workflows.processors.pipeline import DLQ
    from dana_workflows.streams.app_builder import topology_for
    from dana_workflows.streams.kafka.admin import broker_hint
    from dana_workflows.streams.kafka.resume_topics import read_poison
    from dana_workflows.streams.kafka.security import KafkaSecurityError, client_security
    from dana_workflows.streams.status import NoEntryTopic, read_status

    settings = load_settings()
    pipeline = pipeline_or_exit(spec)  # the user's file to fix: exit 2, as for worker and produce
    try:
        security = client_security(settings)
    except KafkaSecurityError as exc:
        raise fail(str(exc)) from None
    topic_prefix = prefix or settings.topic_prefix
    topology = topology_for(pipeline, settings.model_copy(update={"topic_prefix": topic_prefix}))
    bootstrap = broker or settings.kafka_bootstrap_servers
    group_id = group or f"{topic_prefix}-{pipeline.workflow.name}"
    try:
        with quieted("aiokafka"):  # its "Unable connect to" line: the hint below says it once
            status = read_status(topology, bootstrap, group_id, security.aiokafka_kwargs())
            # dlq records that are poison: bytes no worker could read, so no audit outcome for their events
            poison = (
                len(asyncio.run(read_poison(bootstrap, topology.topic(DLQ), security)))
                if status.outcomes.get(DLQ)
                else 0
            )
    except NoEntryTopic as exc:  # status only reads: it created nothing, and says where the topics are
        raise fail(no_topics_line(exc, topic_prefix, bootstrap)) from None
    except (KafkaError, OSError) as exc:  # the broker is not there, or refuses us: one line with the hint
        err.print(f"[red]error:[/red] {broker_hint(bootstrap, security)} ({exc})")
        raise typer.Exit(EXIT_FAILURE) from None
    lag = Table(title=f"lag of group {group_id}")
    for col in ("topic", "partition", "committed", "end", "lag"):
        lag.add_column(col, justify="left" if col == "topic" else "right")
    for p in status.lags:
        lag.add_row(
            p.topic,
            str(p.partition),
            "-" if p.committed is None else str(p.committed),
            str(p.end),
            str(p.lag),
        )
    console.print(lag)
    outcomes = Table(title="outcomes so far")
    outcomes.add_column("outcome")
    outcomes.add_column("topic")
    outcomes.add_column("records", justify="right")
    for boundary, n in status.outcomes.items():
        outcomes.add_row(boundary, topology.topic(boundary), str(n))
    console.print(outcomes)
    waiting = verdict(status.lag, poison, topology.topic(DLQ))
    # `produce` decides the lines it cannot admit (not JSON, a wrong type) itself: their outcomes are on
    # rejected or dlq, and they never reach the entry topic
    extra = status.decided - status.received
    admitted = (
        f" ({extra} more outcomes than events: lines `produce` could not admit are decided there and never "
        f"reach {status.entry_topic})"
        if extra > 0
        else ""
    )
    console.print(
        f"{status.received} events on {status.entry_topic}, {status.decided} outcomes{admitted}; {waiting}",
        markup=False,
        highlight=False,
    )
