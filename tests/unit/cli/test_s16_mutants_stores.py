"""cli/stores.check_audit_server (session 16): before `run --audit clickhouse://...` writes, the server
must answer, but a writer may be an INSERT-only role that the server refuses `SELECT 1`: a refusal shows
the server is up, and the run goes on; a server that does not answer stops it with one line, exit 1; an
embedded store (chdb://) is not opened at all (mutation pass, session 17)."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from dana_workflows.cli import stores
from dana_workflows.sinks import stores as sink_stores
from dana_workflows.sinks.chdb_store import AuditStoreError

pytestmark = pytest.mark.unit

SERVER = "clickhouse://writer:pw@ch:9000/dwf"


class Store:
    """An audit store whose first query raises `error` (None: it answers)."""

    def __init__(self, error: Exception | None) -> None:
        self.error, self.closed, self.queries = error, False, 0

    def query(self, sql: str) -> list[Any]:
        self.queries += 1
        if self.error is not None:
            raise self.error
        return [(1,)]

    def close(self) -> None:
        self.closed = True


def _opened(monkeypatch: pytest.MonkeyPatch, store: Store) -> list[str]:
    opened: list[str] = []

    def open_store(target: str) -> Store:
        opened.append(target)
        return store

    monkeypatch.setattr(sink_stores, "open_store", open_store)  # the probe's home (sinks.stores.reach)
    return opened


def test_a_writer_refused_select_is_let_through(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(AuditStoreError("the server refused the query: Not enough privileges (code 497)"))
    opened = _opened(monkeypatch, store)
    stores.check_audit_server(SERVER)  # no exit
    assert opened == [SERVER] and store.queries == 1 and store.closed  # asked once, then let go


def test_a_server_that_does_not_answer_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(ConnectionRefusedError("Connection refused"))
    _opened(monkeypatch, store)
    with pytest.raises(typer.Exit) as caught:
        stores.check_audit_server(SERVER)
    assert caught.value.exit_code == 1 and store.closed


def test_an_embedded_store_is_not_opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    opened = _opened(monkeypatch, Store(None))
    stores.check_audit_server(f"chdb://{tmp_path}/audit")
    assert opened == []


def test_a_reader_refused_select_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(AuditStoreError("the server refused the query: Wrong password (code 193)"))
    with pytest.raises(typer.Exit) as caught:
        stores.reachable_or_exit(store, SERVER)  # a reader: refusal_ok left at its default
    assert caught.value.exit_code == 1 and store.closed
