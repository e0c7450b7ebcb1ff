"""The command line's conventions in one place: exit codes, the version, output that is not a terminal.

Exit codes (docs/cli.md lists them; scripts and CI rely on them):

- 0 ``EXIT_OK``: done, and every hash chain verified
- 1 ``EXIT_FAILURE``: the command could not do its job (a store that is down or busy, no audit store)
- 2 ``EXIT_USAGE``: a bad option, setting or file the user can fix (a missing input, an unreadable spec)
- 3 ``EXIT_CHAIN_BROKEN``: the audit log failed verification (a changed, removed or reordered row)
- 130 ``EXIT_INTERRUPTED``: stopped by Ctrl-C (SIGINT) before the end, as shells report it
"""

from __future__ import annotations

from enum import StrEnum
from importlib import metadata
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

# its home is core, where the Python API's audit probe holds the driver's lines back too
from dana_workflows.core.quiet import quieted as quieted

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CHAIN_BROKEN = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command Ctrl-C stopped

# Wide enough that no table or line is ever cut or wrapped when the output goes to a file or a pipe.
PIPE_WIDTH = 100_000


def version() -> str:
    """The installed distribution's version (the wheel's metadata, so it cannot drift from pyproject)."""
    try:
        return metadata.version("dana-workflows")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout never installed
        return "0+unknown"


class OutputConsole(Console):
    """A rich Console that renders full width when stdout is not a terminal.

    Rich falls back to 80 columns for a pipe, which cuts table cells (``dwf.claims-tr…``) and wraps
    Markdown tables; ``> file`` and ``| less`` must receive the whole text, unwrapped."""

    @property
    def size(self) -> ConsoleDimensions:
        real = Console.size.fget(self)  # type: ignore[attr-defined]
        return real if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, real.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print_text(self, text: str, **kwargs: Any) -> None:
        """Plain text (Markdown, Mermaid, SQL): no markup, no highlighting, no wrapping."""
        self.print(text, markup=False, highlight=False, soft_wrap=True, **kwargs)


class OutputFormat(StrEnum):
    """`dana-wf run --format`: how output topics are written."""

    jsonl = "jsonl"
    avro = "avro"


class Guarantee(StrEnum):
    """`dana-wf worker --guarantee` (Kafka processing guarantee)."""

    at_least_once = "at_least_once"
    exactly_once = "exactly_once"


class LogLevel(StrEnum):
    """`--log-level` (case does not matter on the command line)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


_ERRORS = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the Exit to raise: every command's one way to stop.

    The message is escaped, so a path or value holding ``[...]`` is printed as written, not read as
    rich markup and dropped."""
    _ERRORS.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)
