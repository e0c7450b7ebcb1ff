"""`--llm-script`: the llm steps a command runs in this process answered by the local test server
(devservices/llm_server) with a reply script, offline. One home for `dana-wf run`, `dana-wf dlq replay` and
`dana-wf review decide`: an event dead-lettered or reviewed in an offline run is replayed or decided the way
it was run, instead of calling the default endpoint and failing a replay that is final (docs/review.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.cli.conventions import EXIT_USAGE, fail
from dana_workflows.core.settings import Settings

LLMScriptOpt = Annotated[
    Path | None,
    typer.Option(
        "--llm-script",
        help="offline: serve llm steps from the local test server with this reply script",
    ),
]


def refuse_with_broker(script: Path | None, broker: str | None) -> None:
    """With --broker the workers run the steps, not this process: a script would answer nothing (exit 2,
    before anything is read or sent)."""
    if script is not None and broker is not None:
        raise fail(
            "--llm-script serves the steps this process runs; with --broker the workers run them", EXIT_USAGE
        )


@contextmanager
def scripted_llm(script: Path | None, settings: Settings) -> Iterator[None]:
    """While inside, `settings`' default endpoint is a local test server answering from `script` (None:
    nothing changes). A script missing or wrong is the user's file to fix: exit 2."""
    if script is None:
        yield
        return
    from dana_workflows.devservices.llm_server.script import load_script
    from dana_workflows.devservices.llm_server.server import ServerThread

    try:
        server = ServerThread(load_script(script)).start()
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    settings.llm_default = settings.llm_default.model_copy(update={"base_url": server.base_url})
    try:
        yield
    finally:
        server.stop()
