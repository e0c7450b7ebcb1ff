"""The local model server's one error: its message says what failed and what to do."""

from __future__ import annotations


class LocalModelError(RuntimeError):
    """The local model server cannot be built, found, started or stopped; the message says why and the fix."""
