"""``dana-wf kafka up|down|status|fetch``: start and stop the local Kafka broker (see docs/kafka.md)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.devservices.kafka import broker
from dana_workflows.devservices.kafka.errors import KafkaLauncherError

app = typer.Typer(
    help="A local Apache Kafka broker (single KRaft node on 127.0.0.1) for development and tests.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Broker state: config, KRaft log, pid file, broker.log.")
]


def _fail(exc: KafkaLauncherError) -> typer.Exit:
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
    sasl_port: Annotated[
        int | None,
        typer.Option(help="Also open a SASL_PLAINTEXT listener here (PLAIN, SCRAM-SHA-256/512)."),
    ] = None,
    sasl_users: Annotated[
        str | None,
        typer.Option(
            help="Users of the SASL listener: user:password[,user2:password2] (needs --sasl-port).",
            envvar="DWF_KAFKA_LAUNCHER_SASL_USERS",
            show_envvar=True,
        ),
    ] = None,
    ssl_port: Annotated[
        int | None,
        typer.Option(help="Also open an SSL (TLS) listener here; its CA is made in <data dir>/tls."),
    ] = None,
    sasl_ssl_port: Annotated[
        int | None,
        typer.Option(help="Also open a SASL_SSL listener here (TLS + the --sasl-users logins)."),
    ] = None,
) -> None:
    """Start the broker (fetching its jars with Maven the first time) and wait until it answers."""
    try:
        info = broker.up(
            port=port,
            controller_port=controller_port,
            data_dir=data_dir,
            wait_s=wait,
            sasl_port=sasl_port,
            sasl_users=sasl_users,
            ssl_port=ssl_port,
            sasl_ssl_port=sasl_ssl_port,
        )
    except KafkaLauncherError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"Kafka {info.version} up at {info.bootstrap} (pid {info.pid}, started in {info.started_in_s} s)\n"
        f"  data dir {info.data_dir}, log {info.log_file}\n"
        f"  export KAFKA_BOOTSTRAP_SERVERS={info.bootstrap}"
    )
    if info.sasl_bootstrap:
        typer.echo(
            f"  SASL_PLAINTEXT listener at {info.sasl_bootstrap} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) for "
            f"{', '.join(info.sasl_users)}:\n"
            f"  export DWF_KAFKA_BOOTSTRAP_SERVERS={info.sasl_bootstrap} "
            "DWF_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT DWF_KAFKA_SASL_MECHANISM=PLAIN "
            f"DWF_KAFKA_SASL_USERNAME={info.sasl_users[0]} DWF_KAFKA_SASL_PASSWORD=..."
        )
    if info.ssl_bootstrap:
        typer.echo(
            f"  SSL listener at {info.ssl_bootstrap}, certificate signed by the CA in {info.ssl_cafile}:\n"
            f"  export DWF_KAFKA_BOOTSTRAP_SERVERS={info.ssl_bootstrap} DWF_KAFKA_SECURITY_PROTOCOL=SSL "
            f"DWF_KAFKA_SSL_CAFILE={info.ssl_cafile}"
        )
    if info.sasl_ssl_bootstrap:
        typer.echo(
            f"  SASL_SSL listener at {info.sasl_ssl_bootstrap} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) for "
            f"{', '.join(info.sasl_users)}, CA {info.ssl_cafile}:\n"
            f"  export DWF_KAFKA_BOOTSTRAP_SERVERS={info.sasl_ssl_bootstrap} "
            f"DWF_KAFKA_SECURITY_PROTOCOL=SASL_SSL DWF_KAFKA_SSL_CAFILE={info.ssl_cafile} "
            "DWF_KAFKA_SASL_MECHANISM=PLAIN "
            f"DWF_KAFKA_SASL_USERNAME={info.sasl_users[0]} DWF_KAFKA_SASL_PASSWORD=..."
        )


@app.command()
def down(data_dir: DataDir = broker.DEFAULT_DATA_DIR) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after 30 s). Its data stays in the data dir."""
    try:
        stopped = broker.down(data_dir)
    except KafkaLauncherError as exc:
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
    except KafkaLauncherError as exc:
        raise _fail(exc) from exc
    took = "already cached" if cached else f"fetched in {time.monotonic() - started:.1f} s"
    typer.echo(f"Kafka {broker.kafka_version()} jars in {where} ({took})")


if __name__ == "__main__":  # ``python -m dana_workflows.cli.kafka_broker up`` (CI, without the full CLI)
    app(prog_name="python -m dana_workflows.cli.kafka_broker")
