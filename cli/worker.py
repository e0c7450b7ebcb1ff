"""Typer commands of the Kafka runtime: `worker` and `produce` (mounted top level in cli/main.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dana_workflows.cli.conventions import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Guarantee,
    LogLevel,
    OutputConsole,
    fail,
    quieted,
)
from dana_workflows.cli.specs import input_file_or_exit, pipeline_or_exit
from dana_workflows.core.settings import Settings, check_topic_prefix, load_settings, log_level_name

if TYPE_CHECKING:
    from dana_workflows.processors.pipeline import Pipeline
    from dana_workflows.streams.topology import Topology

log = logging.getLogger(__name__)
app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Run workflows on Kafka.")
console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns
err = Console(stderr=True)

SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML)")]
BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker",
        "-b",
        help="bootstrap servers host:port[,host:port] "
        "(default: DWF_KAFKA_BOOTSTRAP_SERVERS or localhost:9092)",
    ),
]


def _settings() -> Settings:
    from pydantic import ValidationError

    from dana_workflows.cli.config import _safe_error

    try:
        return load_settings()
    except ValidationError as exc:  # e.g. DWF_LOG_LEVEL=LOUD; the message never echoes a value
        raise fail(f"invalid settings: {_safe_error(exc)}") from None


def _log_level(name: str) -> int:
    try:
        level = log_level_name(name, "--log-level or DWF_LOG_LEVEL")
    except ValueError as exc:
        raise fail(str(exc)) from None
    value: int = getattr(logging, level)
    return value


def _topology(pipeline: Pipeline, settings: Settings) -> Topology:
    from dana_workflows.streams.app_builder import topology_for
    from dana_workflows.streams.kafka.wire import WireCodec

    try:
        topology = topology_for(pipeline, settings)
        WireCodec(topology.registry)  # rejected/dlq/audit schemas: a registry refuses them here, at start
        return topology
    except (ValueError, OSError) as exc:  # schema registry: unknown scheme, not writable, down, incompatible
        raise fail(str(exc)) from None


@app.command("worker")
def worker_command(
    spec: SpecArg,
    broker: BrokerOpt = None,
    guarantee: Annotated[Guarantee | None, typer.Option(help="default: DWF_PROCESSING_GUARANTEE")] = None,
    partitions: Annotated[int | None, typer.Option(help="partitions of topics this worker creates")] = None,
    replication: Annotated[int | None, typer.Option(help="replication factor of created topics")] = None,
    prefix: Annotated[str | None, typer.Option(help="topic prefix (default dwf)")] = None,
    group: Annotated[str | None, typer.Option(help="consumer group id (default <prefix>-<workflow>)")] = None,
    audit: Annotated[str | None, typer.Option(help="audit DSN (default DWF_AUDIT_DSN)")] = None,
    no_audit: Annotated[bool, typer.Option("--no-audit", help="leave dwf.audit to other workers")] = False,
    no_audit_sink: Annotated[bool, typer.Option("--no-audit-sink", hidden=True)] = False,  # old spelling
    data_dir: Annotated[
        Path | None, typer.Option(help="faust data dir parent (default DWF_DATA_DIR)")
    ] = None,
    session_timeout: Annotated[float, typer.Option(help="consumer group session timeout, seconds")] = 10.0,
    commit_interval: Annotated[float, typer.Option(help="seconds between offset commits")] = 1.0,
    stall_after: Annotated[
        float, typer.Option(help="watchdog: seconds without progress while lagging")
    ] = 60.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="port of /metrics, /healthz, /readyz (default DWF_METRICS_PORT; 0 = a free port)"),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(case_sensitive=False, help="default DWF_LOG_LEVEL, else INFO"),
    ] = None,
    shadow_of: Annotated[
        Path | None, typer.Option("--shadow-of", help="run as the shadow of this live spec (docs/changes.md)")
    ] = None,
    per_step_topics: Annotated[
        bool,
        typer.Option(
            "--per-step-topics",
            help="one agent and one topic per step (default: consecutive steps fused in one agent)",
        ),
    ] = False,
    llm_hops: Annotated[
        bool,
        typer.Option("--llm-hops", help="fused, still give each llm step its own topic and agent"),
    ] = False,
    max_batch: Annotated[
        int, typer.Option(help="records an agent takes at once when they are waiting (1: one at a time)")
    ] = 500,
) -> None:
    """Run a workflow's agents on Kafka until SIGTERM (drains, stores the audit, commits, leaves)."""
    from dana_workflows.cli.stores import open_audit_for_writing
    from dana_workflows.streams.kafka.options import KafkaOptions
    from dana_workflows.streams.kafka.worker import quiet_logs, run_worker

    settings = _settings()
    quiet_logs(_log_level(log_level or settings.log_level))
    pipeline = pipeline_or_exit(spec)
    try:
        options = KafkaOptions.from_settings(
            settings,
            bootstrap=broker,
            guarantee=guarantee.value if guarantee else None,
            partitions=partitions,
            replication=replication,
            prefix=prefix,
            group_id=group,
            data_dir=data_dir,
            session_timeout_s=session_timeout,
            commit_interval_s=commit_interval,
            stall_s=stall_after,
            metrics_port=metrics_port,
            fuse=not per_step_topics,
            max_batch=max_batch,
            llm_hops=llm_hops,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    live = None
    if shadow_of is not None:  # shadow mode: its own prefix, group and audit run tag (cli/shadow.py)
        from dana_workflows.cli.shadow import ShadowError, shadow_setup

        live = pipeline_or_exit(shadow_of)
        try:
            pipeline, options = shadow_setup(live, pipeline, options)
        except ShadowError as exc:
            raise fail(str(exc)) from None
    # the default schema registry lives under the data dir (--data-dir too), never in the working directory
    topology = _topology(
        pipeline, settings.model_copy(update={"topic_prefix": options.prefix, "data_dir": options.data_dir})
    )
    log.info("Kafka %s, security %s", options.bootstrap, options.security.describe())
    audit_dsn = None if no_audit or no_audit_sink else (audit or settings.audit_dsn)
    # before any topic or port: a DSN typo exit 2, a server down or refusing the writer exit 1, one line each
    store = open_audit_for_writing(audit_dsn) if audit_dsn is not None else None
    from dana_workflows.streams.kafka.admin import BrokerUnavailableError
    from dana_workflows.streams.tracing import traced_store

    store = traced_store(store, settings)  # spans of the rows it stores, when DWF_OTLP_ENDPOINT is set

    try:
        if live is None:
            code = asyncio.run(run_worker(pipeline, topology, options, store))
        else:
            from dana_workflows.cli.shadow import run_shadow

            code = asyncio.run(run_shadow(live, pipeline, topology, options, store, settings))
    except BrokerUnavailableError as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


@app.command("produce")
def produce_command(
    spec: SpecArg,
    input: Annotated[Path, typer.Option("--input", "-i", help="events, one JSON object per line")],
    broker: BrokerOpt = None,
    partitions: Annotated[int | None, typer.Option(help="partitions of topics created here")] = None,
    replication: Annotated[int | None, typer.Option(help="replication factor of created topics")] = None,
    prefix: Annotated[str | None, typer.Option(help="topic prefix (default dwf)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar and no summary")] = False,
    epoch: Annotated[
        int,
        typer.Option(
            min=0,
            help="run the input again: N > 0 gives each event the run id <its id>-N, so a file produced "
            "a second time is not a redelivery of the first time's runs (docs/audit.md, 'Running an input "
            "again')",
        ),
    ] = 0,
) -> None:
    """Admit each line (parse, type-check) and produce it to the workflow's input topic."""
    from dana_workflows.cli.interrupts import run_interruptible
    from dana_workflows.streams.kafka.admin import BrokerUnavailableError
    from dana_workflows.streams.kafka.producer import count_lines, produce_lines
    from dana_workflows.streams.kafka.security import KafkaSecurityError, client_security
    from dana_workflows.streams.local.input_lines import INPUT_ENCODING

    settings = _settings()
    input_file_or_exit(input)
    try:
        client_security(settings)  # a wrong TLS/SASL combination fails here, before any connection
    except KafkaSecurityError as exc:
        raise fail(str(exc)) from None
    pipeline = pipeline_or_exit(spec)
    prefix = prefix or settings.topic_prefix
    try:
        check_topic_prefix(prefix, "--prefix")
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    topology = _topology(pipeline, settings.model_copy(update={"topic_prefix": prefix}))
    bootstrap = broker or settings.kafka_bootstrap_servers
    total = count_lines(input)
    progress = Progress(
        TextColumn("producing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )
    # surrogateescape: a line that is not UTF-8 goes to dlq with the reason (dana_workflows.processors.ingest)
    sent = 0  # lines produced so far, for the line an interruption prints
    flushed = False  # the audit rows of those lines confirmed by the broker (not so after a second Ctrl-C)

    def on_line(ordinal: int) -> None:
        nonlocal sent
        sent = ordinal + 1
        progress.update(task, completed=sent)

    def on_audit_flushed() -> None:
        nonlocal flushed
        flushed = True

    def on_ctrl_c(count: int) -> None:  # the waits below can be long with the broker down: say what they are
        progress.stop()
        note = {
            1: f"interrupted at line {sent}: sending the audit rows of the lines sent (Ctrl-C again to stop "
            "waiting for them)",
            2: "stopping the Kafka client, which waits for what it holds (Ctrl-C again to leave now)",
        }.get(count)
        if note is not None:
            err.print(note, markup=False, highlight=False, soft_wrap=True)

    with progress, input.open(encoding=INPUT_ENCODING, errors="surrogateescape") as fh:
        task = progress.add_task("produce", total=total)
        try:
            with quieted("aiokafka"):  # its connection and retry lines: the outcome is said below
                summary = run_interruptible(  # a second Ctrl-C: see cli/interrupts.py
                    produce_lines(
                        pipeline,
                        topology,
                        bootstrap,
                        fh,
                        partitions=partitions or settings.topic_partitions,
                        replication=replication or settings.topic_replication,
                        source=str(input),
                        on_line=on_line,
                        on_audit_flushed=on_audit_flushed,
                        epoch=epoch,
                    ),
                    on_interrupt=on_ctrl_c,
                )
        except BrokerUnavailableError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:  # Ctrl-C: the lines sent went with their audit rows (producer.py)
            rows = (
                "each with its audit rows"
                if flushed or not sent  # else a second Ctrl-C stopped the finally sending them (producer.py)
                else f"the audit rows of the last of them may not have reached {topology.audit_topic} "
                "(not confirmed before the producer stopped: interrupted again, or the broker unreachable), "
                "and `dana-wf audit verify` may read those runs as rows removed"
            )
            raise fail(
                f"interrupted: {sent} of {total} lines of {input} produced to {topology.topic('in')}, "
                f"{rows}; the rest were not sent",
                EXIT_INTERRUPTED,
            ) from None
    note = _unread_input_note(topology, summary.created_topics, bootstrap, prefix)
    if note is not None:  # a warning, not the summary: --quiet keeps it
        err.print(note, markup=False, highlight=False, soft_wrap=True)
    if quiet:  # --help: "no progress bar and no summary"
        return
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    console.print(
        f"{summary.lines} events to {topology.topic('in')} in {summary.seconds:.1f}s ({rate:,.0f}/s): "
        + ", ".join(f"{k} {v}" for k, v in summary.outcomes.items())
        + f"; {summary.audit_rows} audit rows to {topology.audit_topic}"
    )


def _unread_input_note(topology: Topology, created: list[str], bootstrap: str, prefix: str) -> str | None:
    """When `produce` made the input topic itself, no worker has run this workflow under this prefix (a
    worker makes its topics when it starts): a misspelt --prefix or workflow name sends the events where
    nothing reads them, so say so and name the input topics like it on the broker."""
    import difflib

    from dana_workflows.streams.kafka.admin import BrokerUnavailableError, topic_names

    entry = topology.topic("in")
    if entry not in created:
        return None
    try:
        with quieted("aiokafka"):
            names = asyncio.run(topic_names(bootstrap))
    except BrokerUnavailableError:  # gone since: the note goes without the names
        names = []
    alike = difflib.get_close_matches(entry, [n for n in names if n.endswith(".in") and n != entry], n=3)
    workflow = topology.pipeline.workflow.name
    return (
        f"note: {entry} did not exist, so no worker has run workflow {workflow!r} under "
        f"prefix {prefix!r} yet (a worker makes its topics when it starts): the events wait there until one "
        "does. If a worker runs already, check --prefix (DWF_TOPIC_PREFIX) and the spec's `workflow:` name"
        + (f"; input topics like it on this broker: {', '.join(alike)}" if alike else "")
    )


if (
    __name__ == "__main__"
):  # ``python -m dana_workflows.cli.worker worker SPEC`` (tests start workers this way)
    app()
