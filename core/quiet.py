"""Client libraries' own log lines held back while the project says what went wrong in a line of its own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quieted(*loggers: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Client libraries' own log lines held back while a short command talks to a server: aiokafka's
    "Unable connect to ..." and its retry warnings, clickhouse-driver's "Failed to connect" with its
    traceback. The command says what went wrong in one line of its own (docs/cli.md); a worker, which runs
    for long, keeps them."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, before in saved:
            logger.setLevel(before)
