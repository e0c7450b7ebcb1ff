"""``dana-wf kafka up|down|status|fetch``: start and stop the local Kafka broker (see docs/kafka.md)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from streams.launcher import broker

app = typer.Typer(
    help="A local Apache Kafka broker (single KRaft node on 127.0.0.1) for development and tests.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Broker state: config, KRaft log, pid file, broker.log.")
]


def _fail(exc: broker.KafkaLauncherError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="PLAINTEXT listener (bootstrap) port.")] = broker.DEFAULT_PORT,
    controller_port: Annotated[
        int | None, typer.Option(help="KRaft controller port (default: port + 1).")
    ] = None,
    data_dir: DataDir = broker.DEFAULT_DATA_DIR,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the broker to answer.")] = 60.0,
) -> None:
    """Start the broker (fetching its jars with Maven the first time) and wait until it answers."""
    try:
        info = broker.up(
            port=port,
            controller_port=controller_port,
            data_dir=data_dir,
            wait_s=wait,
        )
    except broker.KafkaLauncherError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"Kafka {info.version} up at {info.bootstrap} (pid {info.pid}, started in {info.started_in_s} s)\n"
        f"  data dir {info.data_dir}, log {info.log_file}\n"
        f"  export KAFKA_BOOTSTRAP_SERVERS={info.bootstrap}"
    )


@app.command()
def down(data_dir: DataDir = broker.DEFAULT_DATA_DIR) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after 30 s). Its data stays in the data dir."""
    try:
        stopped = broker.down(data_dir)
    except broker.KafkaLauncherError as exc:
        raise _fail(exc) from exc
    typer.echo("Kafka stopped" if stopped else "Kafka was not running")


@app.command()
def status(
    data_dir: DataDir = broker.DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Say whether the broker runs (exit 0) or not (exit 1), with its pid and port."""
    st = broker.status(data_dir)
    typer.echo(json.dumps(asdict(st)) if as_json else st.describe())
    if not st.running:
        raise typer.Exit(code=1)


@app.command()
def fetch() -> None:
    """Download the broker jars into the cache now (CI warms the cache with this)."""
    started = time.monotonic()
    cached = broker.jars_ready()
    try:
        where = broker.ensure_jars()
    except broker.KafkaLauncherError as exc:
        raise _fail(exc) from exc
    took = "already cached" if cached else f"fetched in {time.monotonic() - started:.1f} s"
    typer.echo(f"Kafka {broker.kafka_version()} jars in {where} ({took})")
