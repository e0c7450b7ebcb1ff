"""--since/--until for every command: one reading of a time the user types (docs/cli.md, "Times").

Accepted: an ISO 8601 date or date-time (without a zone it is UTC), epoch seconds (`1767225600`), or a
span back from now (`30m`, `2h`, `7d`, `45s`). One parser, so `dana-wf diff`, `dlq`, `recovery report`,
`audit compliance`, `audit models` and `efficiency` read `--since` alike.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer

from dana_workflows.cli.conventions import EXIT_USAGE, fail

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SCALE = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FORMS = (
    "an ISO time (2026-01-31 or 2026-01-31T09:00:00Z), epoch seconds, or a span back from now (30m, 2h, 7d)"
)


SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="from this time on: ISO time (UTC if no zone), epoch secs or span (2h, 7d)"),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="before this time (excluded), in the forms --since takes")
]


def parse_time_us(text: str, now_s: float) -> int:
    """µs since the epoch; ValueError when `text` is none of the accepted forms."""
    value = text.strip()
    span = _SPAN.match(value)
    if span:
        return int((now_s - float(span.group(1)) * _SCALE[span.group(2)]) * 1_000_000)
    try:
        return int(float(value) * 1_000_000)
    except ValueError:
        pass
    moment = datetime.fromisoformat(value)  # ValueError for anything else
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def time_option_us(text: str | None, option: str, now: Callable[[], float] = time.time) -> int | None:
    """The option's time as µs since the epoch (None when not given), or exit 2 naming the accepted forms."""
    if text is None:
        return None
    try:
        return parse_time_us(text, now())
    except ValueError:
        raise fail(f"{option} {text!r} is not a time: give {FORMS}", EXIT_USAGE) from None
