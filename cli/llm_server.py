"""``dana-wf dev llm-server``: the local OpenAI-compatible test server."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.devservices.llm_server.script import Script, load_script
from dana_workflows.devservices.llm_server.server import serve

app = typer.Typer(help="Local OpenAI-compatible server with scripted replies and injectable faults.")


@app.command("llm-server")
def llm_server(
    script: Annotated[
        Path | None, typer.Option("--script", help="YAML file of reply rules and faults")
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="0 picks a free port (printed on start)")] = 8765,
) -> None:
    """Serve /v1/chat/completions and /v1/models until interrupted."""
    try:
        loaded = load_script(script) if script is not None else Script()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(loaded, host, port))


if __name__ == "__main__":  # ``python -m dana_workflows.cli.llm_server --script FILE --port N``
    typer.run(llm_server)
