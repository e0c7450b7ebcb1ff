"""dana-wf run's BackgroundInserter against a store that fails: retried until stored, in order, once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from dana_workflows.sinks.audit_model import AuditRow, QueryResult
from dana_workflows.sinks.batching import rows_token
from dana_workflows.streams.local.inserter import BackgroundInserter
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.unit


class FlakyStore:
    """Fails `fail_next` inserts; `reached` makes a failing attempt land first (an unknown outcome)."""

    def __init__(self, fail_next: int = 0, reached: bool = False) -> None:
        self.fail_next = fail_next
        self.reached = reached
        self.attempts: list[str | None] = []
        self.batches: dict[str, list[AuditRow]] = {}  # by token: a token already seen adds nothing

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        self.attempts.append(dedup_token)
        if self.fail_next > 0:
            self.fail_next -= 1
            if self.reached:
                self.batches.setdefault(dedup_token or "", list(rows))
            raise ConnectionError("Connection refused (127.0.0.1:9000)")
        self.batches.setdefault(dedup_token or "", list(rows))

    def ensure_schema(self) -> None:
        pass

    def query(self, sql: str) -> QueryResult:
        return QueryResult([])

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        return set()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "FlakyStore(clickhouse://127.0.0.1:9000/dwf)"


def test_a_store_that_is_down_for_a_while_costs_retries_not_rows(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore(fail_next=3, reached=True)
    inserter = BackgroundInserter(store, backoff_initial_s=0.01, backoff_max_s=0.02)
    first, second = audit_chain("run-a", 4), audit_chain("run-b", 3)
    with caplog.at_level(logging.WARNING, logger="dana_workflows.streams.local.inserter"):
        inserter.submit(first)
        inserter.submit(second)
        inserter.close()
    assert list(store.batches.values()) == [first, second]  # in order, each once
    assert store.attempts == [rows_token(first)] * 4 + [rows_token(second)]  # the same token each time
    assert inserter.failed_attempts == 3
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert (
        "audit insert of 4 rows into FlakyStore(clickhouse://127.0.0.1:9000/dwf) failed (attempt 1)"
        in (messages[0])
    )
    assert "Connection refused" in messages[0]


def test_close_gives_up_after_its_deadline_with_the_stores_error() -> None:
    store = FlakyStore(fail_next=10**9)
    inserter = BackgroundInserter(store, backoff_initial_s=0.01, backoff_max_s=0.05)
    inserter.submit(audit_chain("run-a", 2))
    with pytest.raises(ConnectionError, match="Connection refused"):
        inserter.close(give_up_after_s=0.2)
    assert len(store.attempts) >= 2
    assert store.batches == {}


def test_backpressure_holds_the_run_while_batches_wait() -> None:
    gate = threading.Event()
    store = FlakyStore()
    real_insert = store.insert

    def held(rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        gate.wait(5)
        real_insert(rows, dedup_token)

    store.insert = held  # type: ignore[method-assign]
    inserter = BackgroundInserter(store, max_in_flight=1)
    inserter.submit(audit_chain("run-a", 1))
    blocked = threading.Thread(target=inserter.submit, args=(audit_chain("run-b", 1),))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the second submit waits for the first batch to be stored
    gate.set()
    blocked.join(5)
    inserter.close()
    assert [rows[0].run_id for rows in store.batches.values()] == ["run-a", "run-b"]
