"""The embedded audit store: chdb (ClickHouse in-process) under a directory, `.dwf/audit` by default.

chdb serves one process per directory, and one directory per process at a time; a second process
gets a clear error that says to stop the other one or to use a ClickHouse server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from dana_workflows.sinks.audit_model import (
    AUDIT_TABLE,
    COLUMNS,
    AuditRow,
    QueryResult,
    columns_of,
    sql_string,
    stored_hashes,
)
from dana_workflows.sinks.ddl import create_database, create_events_table, parse_version, supports_dedup_token
from dana_workflows.sinks.read_only import NotReadOnlyError, check_parsed, check_read_only


class AuditStoreError(RuntimeError):
    """The audit store could not do what was asked; the message says why and what to do."""


class AuditStoreBusyError(AuditStoreError):
    pass


class ChdbAuditStore:
    def __init__(self, path: str | Path = ".dwf/audit", database: str = "dwf") -> None:
        from chdb import session

        self.path = Path(path)
        self.database = database
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = session.Session(str(self.path))  # type: ignore[no-untyped-call]
        except Exception as exc:
            text = str(exc)
            if "EmbeddedServer" in text or "already initialized" in text:
                raise AuditStoreBusyError(
                    f"the embedded audit store at {self.path} is in use by another process or another "
                    "store in "
                    "this one (chdb serves one process per directory): stop the other process, pass another "
                    "--audit directory, or use a ClickHouse server (DWF_AUDIT_DSN=clickhouse://host:9000/dwf)"
                ) from exc
            raise
        self.version = parse_version(self._scalar("SELECT version()"))
        self._ready = False
        self._reader: Any = None  # the readonly=1 session user SQL runs on, opened at the first query

    def _scalar(self, sql: str) -> str:
        return str(self._session.query(sql, "TSVRaw")).strip()

    def ensure_schema(self) -> None:
        if self._ready:
            return
        self._session.query(create_database(self.database))
        self._session.query(create_events_table(self.database, self.version))
        self._ready = True

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        if rows:
            self.insert_body(columns_body(rows), dedup_token)

    def insert_body(self, body: bytes, dedup_token: str | None = None) -> None:
        """Insert a batch already rendered by columns_body (the writer process receives it so)."""
        self.ensure_schema()
        # One thread: the pipeline owns the other core, and on a shared core chdb's extra insert
        # threads only add hand-offs (~10% more CPU per row, measured in round 4 of performance.md).
        settings = " SETTINGS max_threads = 1"
        if dedup_token and supports_dedup_token(self.version):
            settings += f", insert_deduplication_token = {sql_string(dedup_token)}"
        cols = ", ".join(COLUMNS)
        head = f"INSERT INTO {self.database}.{AUDIT_TABLE} ({cols}){settings} FORMAT JSONColumns\n"
        self._session.query(head + body.decode())

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        # our own SQL over our own hashes: the writer session reads it without the user-SQL checks
        return stored_hashes(lambda sql: parse_result(self._own_read(sql)), self.table, rows)

    @property
    def table(self) -> str:
        return f"{self.database}.{AUDIT_TABLE}"

    def _own_read(self, sql: str) -> bytes:
        self.ensure_schema()
        data: bytes = self._session.query(sql, "JSONCompact").bytes()
        return data

    def query(self, sql: str) -> QueryResult:
        """Read-only: the audit log is insert-only, and this is the path user SQL takes."""
        return parse_result(self.query_raw(sql))

    def query_raw(self, sql: str) -> bytes:
        """The JSONCompact answer to one reading statement, run where the engine refuses anything else
        (sinks.read_only says how; parse_result turns the answer into a QueryResult)."""
        try:
            statement = check_read_only(sql)
        except NotReadOnlyError as exc:
            raise AuditStoreError(str(exc)) from None
        self.ensure_schema()
        reader = self._read_only_session()
        try:
            # the engine parses: one statement or a syntax error; this text is what runs
            one = str(reader.query(f"SELECT formatQuerySingleLine({sql_string(statement)})", "TSVRaw"))
            check_parsed(str(reader.query(f"EXPLAIN AST {one}", "TSVRaw")))
            data: bytes = reader.query(one, "JSONCompact").bytes()
        except NotReadOnlyError as exc:
            raise AuditStoreError(str(exc)) from None
        except Exception as exc:
            raise AuditStoreError(f"query failed: {_engine_message(exc)}") from None
        return data

    def _read_only_session(self) -> Any:
        """A second session on the same directory with readonly=1, so the engine refuses writes,
        settings and table functions for everything user SQL runs (measured: tests/integration/
        test_audit_sql_hostile.py)."""
        if self._reader is None:
            from chdb import session

            self._reader = session.Session(f"{self.path}?readonly=1")  # type: ignore[no-untyped-call]
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._session.close()


def _engine_message(exc: Exception) -> str:
    """chdb's error in one line, without the repeated 'Code: N. DB::Exception:' prefixes."""
    line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return re.sub(r"^(Code: \d+\. DB::Exception: )+(default: )?", "", line)


def columns_body(rows: Sequence[AuditRow]) -> bytes:
    """A batch as one JSON object of columns (FORMAT JSONColumns).

    ~2.5x cheaper to build and ~1.6x faster to insert than a line per row.
    """
    return orjson.dumps(dict(zip(COLUMNS, columns_of(rows), strict=True)))


def parse_result(data: bytes) -> QueryResult:
    if not data:
        return QueryResult([], [])
    doc = json.loads(data)
    return QueryResult([m["name"] for m in doc["meta"]], [tuple(r) for r in doc["data"]])
