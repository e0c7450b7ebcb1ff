"""Mutation pass over session 18's lines of knowledge/backend.py: a test for the mutant that survived.

A knowledge DSN that does not parse is a ``KnowledgeDsnError`` ("a value the user fixes (the CLI's usage
error, exit 2), unlike a store that cannot be reached or read", knowledge/errors.py), naming the knowledge
store: the CLI tells the two apart by that class alone.
"""

from __future__ import annotations

import pytest

from dana_workflows.knowledge.backend import open_backend
from dana_workflows.knowledge.errors import KnowledgeDsnError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "dsn",
    ["postgres://x", "no-scheme", "chdb://", "clickhouse://h:port/dwf", "clickhouse://h/dwf?bogus=1"],
)
def test_a_dsn_that_does_not_parse_is_the_users_to_fix(dsn: str) -> None:
    with pytest.raises(KnowledgeDsnError) as info:
        open_backend(dsn)
    assert str(info.value).startswith("knowledge DSN ")
