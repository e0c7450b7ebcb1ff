"""The one error of the knowledge room: its message names the place and the fix."""

from __future__ import annotations


class KnowledgeError(ValueError):
    """A source, the store, or a step's knowledge settings cannot be used as given."""


class KnowledgeDsnError(KnowledgeError):
    """The knowledge store's DSN does not parse: a value the user fixes (the CLI's usage error, exit 2),
    unlike a store that cannot be reached or read."""
