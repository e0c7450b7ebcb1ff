"""Shadow mode: a changed spec runs on live traffic next to the live one, and never decides anything.

`dana-wf worker NEW.yaml --shadow-of OLD.yaml` is configuration around the ordinary worker:
- a tap consumes the live input topic (`<prefix>.<workflow>.in`) under its own group, gives each event
  its own run id (the live id + `~shadow`, the audit run tag: a chain of its own that starts at genesis
  with a `received` row naming the live run), and produces it to the shadow input topic;
- the worker runs NEW with the shadow prefix (`<prefix>-shadow`) and group (`<prefix>-shadow-<workflow>`),
  so every topic it writes (steps, out, rejected, dlq, its audit topic) is a shadow topic.
No real output topic is written by either. `dana-wf shadow report` compares the decisions of the live and
the shadow run of each event from the audit store, as they arrive (`--follow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, quieted
from dana_workflows.sinks.audit_model import events_table

if TYPE_CHECKING:
    from dana_workflows.processors.pipeline import Pipeline
    from dana_workflows.sinks.dsn import StoreConfig
    from dana_workflows.streams.kafka.options import KafkaOptions
    from dana_workflows.streams.topology import Topology

TAG = "~shadow"
log = logging.getLogger(__name__)
app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Shadow mode: compare a changed spec on live traffic."
)
err = Console(stderr=True, soft_wrap=True)


class ShadowError(ValueError):
    """A shadow set-up the user can fix (two different workflows, a shadow prefix equal to the live one)."""


def shadow_prefix(live_prefix: str) -> str:
    return f"{live_prefix}-shadow"


def shadow_options(live: Pipeline, new: Pipeline, options: KafkaOptions) -> KafkaOptions:
    """The worker options of the shadow: its own prefix and group, everything else as given."""
    if live.workflow.name != new.workflow.name:
        raise ShadowError(
            f"--shadow-of is workflow '{live.workflow.name}' and the spec is workflow '{new.workflow.name}': "
            "shadow mode runs a new version of the same workflow (fix: give both specs one `workflow:` name)"
        )
    prefix = options.prefix if options.prefix.endswith("-shadow") else shadow_prefix(options.prefix)
    group = options.group_id or f"{prefix}-{new.workflow.name}"
    return dataclasses.replace(options, prefix=prefix, group_id=group)


def shadow_setup(live: Pipeline, new: Pipeline, options: KafkaOptions) -> tuple[Pipeline, KafkaOptions]:
    """The shadow's pipeline and worker options. Its drift monitors are left out: their audit chain is one
    per workflow (`<workflow>.drift`), which the live workers write; a second writer would fork it."""
    from dana_workflows.processors.pipeline import compile_pipeline
    from dana_workflows.workflow.ir import DriftIR

    shadowed = shadow_options(live, new, options)
    if new.workflow.drift.monitors:
        new = compile_pipeline(new.workflow.model_copy(update={"drift": DriftIR()}))
    return new, shadowed


def live_prefix_of(shadow: str) -> str:
    return shadow.removesuffix("-shadow")


async def tap(
    live_topology: Topology,
    shadow_topology: Topology,
    options: KafkaOptions,
    stop: asyncio.Event,
    start_from: str = "earliest",
) -> int:
    """Live input -> shadow input, each event re-tagged; returns how many it forwarded."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from dana_workflows.core.clock import wall_clock_us
    from dana_workflows.processors.audit_trail import transition
    from dana_workflows.processors.boundary import Boundaries, Misfit
    from dana_workflows.processors.ingest import INGEST
    from dana_workflows.processors.pipeline import DLQ, ENTRY
    from dana_workflows.schemas.envelope import GENESIS_HASH
    from dana_workflows.schemas.serde import EnvelopeSerde
    from dana_workflows.streams.kafka.admin import ensure_topics
    from dana_workflows.streams.kafka.options import all_topics
    from dana_workflows.streams.kafka.partitioner import PARTITIONER
    from dana_workflows.streams.kafka.wire import AuditBatchBuilder, WireCodec

    security = options.security.aiokafka_kwargs()
    await ensure_topics(
        options.bootstrap,
        all_topics(shadow_topology),
        options.partitions,
        options.replication,
        security=options.security,
    )
    await ensure_topics(
        options.bootstrap,
        [live_topology.topic(ENTRY)],
        options.partitions,
        options.replication,
        security=options.security,
    )
    live_serde = EnvelopeSerde(live_topology.registry)
    boundaries = Boundaries(EnvelopeSerde(shadow_topology.registry), shadow_topology.topics)
    codec = WireCodec(shadow_topology.registry)
    version = shadow_topology.pipeline.workflow.version
    consumer = AIOKafkaConsumer(
        live_topology.topic(ENTRY),
        bootstrap_servers=options.bootstrap,
        group_id=f"{options.app_id(shadow_topology.pipeline.workflow.name)}-tap",
        auto_offset_reset=start_from,
        enable_auto_commit=False,
        **security,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=options.bootstrap,
        acks="all",
        partitioner=PARTITIONER,  # the run id's partition as the workers pick it (partitioner.py)
        **security,
    )
    await consumer.start()
    await producer.start()
    forwarded = 0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            audit = AuditBatchBuilder(codec)
            for records in batches.values():
                for record in records:
                    _, env = live_serde.decode(record.value)
                    live_run = env.run_id
                    env.run_id = f"{live_run}{TAG}"
                    env.event_id = f"{env.run_id}/in"
                    env.workflow_version = version
                    env.chain_seq, env.chain_hash = 0, GENESIS_HASH
                    now = wall_clock_us()
                    rows = [
                        transition(env, "received", INGEST, now, details={"shadow_of": live_run}),
                        transition(env, "emitted", INGEST, now, decision="pass"),
                    ]
                    encoded = boundaries.encode(env, ENTRY, wall_clock_us)
                    if isinstance(encoded, Misfit):  # NEW's input schema refuses it: the shadow's dlq
                        rows.append(encoded.row)
                        target, value = DLQ, codec.encode_mixed(env)
                    else:
                        target, value = ENTRY, encoded
                    await producer.send(shadow_topology.topic(target), value, key=env.run_id.encode())
                    audit.add(rows)
                    forwarded += 1
            if len(audit):
                await producer.send(shadow_topology.audit_topic, audit.take(), key=b"shadow-tap")
            if batches:
                await producer.flush()
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return forwarded


async def with_tap(worker: Awaitable[int], tapping: Awaitable[int], stop: asyncio.Event) -> int:
    """Run the worker and the tap together; when the worker ends, the tap stops after its last batch."""
    task = asyncio.ensure_future(tapping)
    try:
        return await worker
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            log.warning("shadow tap forwarded %d events", await task)


# -- the report ---------------------------------------------------------------------------------------------
def decisions(rows: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """run id -> its decision (outcome and branches) from (run_id, step, kind, decision) audit rows."""
    routes: dict[str, list[str]] = {}
    ends: dict[str, str] = {}
    for run_id, step, kind, decision in rows:
        if kind == "routed":
            routes.setdefault(run_id, []).append(f"{step}={decision}")
        elif kind == "completed":
            ends[run_id] = decision
        elif kind in ("rejected", "dlq"):
            ends[run_id] = f"{kind} at {step}"
    return {
        run: end + (f" via {', '.join(routes[run])}" if run in routes else "") for run, end in ends.items()
    }


def compare(found: dict[str, str]) -> tuple[int, Counter[str], dict[str, str], int]:
    """(agreeing, disagreements by "live -> shadow", a sample run of each, live ones still pending)."""
    agree, moves, pending = 0, Counter[str](), 0
    sample: dict[str, str] = {}
    for run, live in found.items():
        if run.endswith(TAG):
            continue
        shadow = found.get(f"{run}{TAG}")
        if shadow is None:
            pending += 1
        elif shadow == live:
            agree += 1
        else:
            move = f"{live}  ->  {shadow}"
            moves[move] += 1
            sample.setdefault(move, run)
    return agree, moves, sample, pending


@app.command("report")
def report(
    spec: Annotated[Path, typer.Argument(help="the workflow spec (either version: only its name is read)")],
    audit: Annotated[str | None, typer.Option(help="audit DSN (default DWF_AUDIT_DSN)")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="print again as decisions arrive, until Ctrl-C")
    ] = False,
    interval: Annotated[float, typer.Option(help="with --follow: seconds between reports")] = 5.0,
    rounds: Annotated[int, typer.Option(hidden=True)] = 0,  # with --follow: stop after this many (tests)
) -> None:
    """Compare live and shadow decisions of the same events, from the audit store."""
    from dana_workflows.cli.specs import pipeline_or_exit
    from dana_workflows.cli.stores import NAME_ANOTHER, absent_embedded_store, store_config
    from dana_workflows.core.masking import mask_text
    from dana_workflows.core.settings import load_settings

    name = pipeline_or_exit(spec).workflow.name
    dsn = audit or load_settings().audit_dsn
    config = store_config(dsn)  # once: each round asks only whether an embedded store is there yet
    start = f"start `dana-wf worker NEW.yaml --shadow-of {spec}`"  # the fix when it has decided nothing yet
    console = Console(highlight=False, soft_wrap=True)
    done = 0
    waiting = False
    while True:
        # a follower started before the workers: a store or table they have not made yet is nothing decided
        # yet, as in a store with no decisions; not created here (the workers create it, and chdb serves a
        # directory to one process)
        absent = absent_embedded_store(config)
        if absent is not None and not follow:
            raise fail(
                f"no audit store at {absent.path} ({absent}): {start} with the live workers' audit store, "
                f"or name it with {NAME_ANOTHER}",
                EXIT_USAGE,
            )
        rows = None if absent is not None else _decision_rows(dsn, config, name, follow)
        if rows is None:
            if not waiting:
                where = f"store at {absent.path}" if absent else f"table in {mask_text(dsn)}"
                err.print(f"no audit {where} yet: waiting for the workers to write it", markup=False)
            waiting, rows = True, []
        found = decisions(rows)
        shadowed = sum(1 for run in found if run.endswith(TAG))
        if not shadowed and not follow:
            err.print(
                f"[red]error:[/red] no shadow decisions of workflow '{name}' in {mask_text(dsn)} "
                f"(fix: {start} with the same audit store)"
            )
            raise typer.Exit(EXIT_USAGE)
        agree, moves, sample, pending = compare(found)
        stamp = time.strftime("%H:%M:%S")
        console.print(
            f"{stamp} {name}: {agree + sum(moves.values())} events decided by both, {agree} agree, "
            f"{sum(moves.values())} differ, {pending} live decisions without a shadow one yet"
        )
        for move, n in moves.most_common():
            console.print(f"  {n:>6}  {move}   (e.g. run {sample[move]})", markup=False)
        done += 1
        if not follow or (rounds and done >= rounds):
            raise typer.Exit(EXIT_OK)
        time.sleep(interval)


def _decision_rows(dsn: str, config: StoreConfig, name: str, follow: bool) -> list[tuple[Any, ...]] | None:
    """The workflow's decision rows; None with `follow` when the store has no audit table yet; or a
    typer.Exit after one line (cli.stores, the readers' one home: a server that is down is their line and
    hint). An embedded store that is not there is report's case, checked once a round before this is
    called (not created here): the store is opened from `config`, its DSN parsed once by report."""
    from dana_workflows.cli import stores
    from dana_workflows.core.masking import mask_text
    from dana_workflows.sinks.audit_model import sql_string

    store = stores.open_found_audit(dsn, config)
    table = events_table(store)
    sql = (
        f"SELECT run_id, step, kind, decision FROM {table} "
        f"WHERE workflow = {sql_string(name)} AND kind IN ('routed', 'completed', 'rejected', 'dlq')"
    )
    try:
        with quieted("clickhouse_driver", level=logging.ERROR):  # its traceback: said in one line below
            if follow and not store.query(f"EXISTS TABLE {table}").rows[0][0]:
                return None  # the workers have not made it yet (a server's database may not be there either)
            return [tuple(r) for r in store.query(sql).rows]
    except Exception as exc:  # the query refused (a table missing, a server gone since it answered)
        err.print(f"[red]error:[/red] cannot read the audit store {mask_text(dsn)}: {exc}")
        raise typer.Exit(EXIT_FAILURE) from None
    finally:
        store.close()


async def run_shadow(
    live: Pipeline, pipeline: Pipeline, topology: Topology, options: KafkaOptions, store: Any, settings: Any
) -> int:
    """The NEW worker on the shadow topics, and the tap that feeds it the live input."""
    from dana_workflows.streams.app_builder import topology_for
    from dana_workflows.streams.kafka.worker import run_worker

    live_settings = settings.model_copy(
        update={"topic_prefix": live_prefix_of(options.prefix), "data_dir": options.data_dir}
    )
    live_topology = topology_for(live, live_settings)
    stop = asyncio.Event()
    return await with_tap(
        run_worker(pipeline, topology, options, store), tap(live_topology, topology, options, stop), stop
    )
