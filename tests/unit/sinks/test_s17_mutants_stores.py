"""Mutation pass over session 17's lines of sinks/stores.py: a test for the mutant that survived.

``reach`` (a reader's check, the default): "a reader refused `SELECT 1` is refused its own query too", so
a refusal is the store's error in one line naming the DSN, password masked, and the store is closed; only
a writer (``refusal_ok=True``) takes a refusal as a sign that the server is up.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.stores import reach

pytestmark = pytest.mark.unit

DSN = "clickhouse://reader:s3cr3t@ch.internal:9000/audit"


class RefusingStore:
    """A server store whose user may not run the query (ClickHouse's ACCESS_DENIED, as the store says)."""

    def __init__(self) -> None:
        self.closed = False

    def query(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        raise AuditStoreError("Not enough privileges (ACCESS_DENIED)")

    def close(self) -> None:
        self.closed = True


def test_a_reader_refused_select_1_is_an_error_naming_the_store() -> None:
    store = RefusingStore()
    with pytest.raises(AuditStoreError) as caught:
        reach(store, DSN, elsewhere="--audit or DWF_AUDIT_DSN")  # type: ignore[arg-type]
    assert "ACCESS_DENIED" in str(caught.value) and "s3cr3t" not in str(caught.value)
    assert "ch.internal" in str(caught.value)
    assert store.closed


def test_a_writer_refused_select_1_keeps_the_store() -> None:
    store = RefusingStore()
    assert reach(store, DSN, elsewhere="audit=", refusal_ok=True) is store  # type: ignore[arg-type]
    assert not store.closed
