"""The audit store on a ClickHouse server, over the native protocol (clickhouse-driver).

Same row model and DDL as the embedded chdb store. Inserts are columnar (one block per batch). Insert-only by
construction: this module issues CREATE ... IF NOT EXISTS and INSERT, and runs user queries with
``readonly=1`` so an audit query cannot change the table either.

Exactly-once across retries: on ClickHouse >= 22.2 the insert carries ``insert_deduplication_token`` and
the table keeps a deduplication window, so a retried or replayed batch adds no rows. Older servers (Debian's
18.16) have neither; there, a batch whose previous attempt failed (outcome unknown: the server may have
committed it before the connection dropped) is re-inserted only for the rows whose hash is not in the table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from pydantic import SecretStr

from dana_workflows.sinks import ddl
from dana_workflows.sinks.audit_model import (
    AUDIT_TABLE,
    COLUMNS,
    AuditRow,
    QueryResult,
    columns_of,
    stored_hashes,
)
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.read_only import READONLY_SETTINGS, NotReadOnlyError, check_read_only

if TYPE_CHECKING:
    from dana_workflows.sinks.dsn import ClickHouseServerConfig

log = logging.getLogger(__name__)

_READONLY = 164  # ClickHouse error code READONLY
_ACCESS_DENIED = 497


class ServerAuditStore:
    """AuditStore on a ClickHouse server. Blocking: async callers use a thread (BatchingAuditSink does)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        database: str = "dwf",
        user: str = "default",
        password: str | SecretStr = "",
        *,
        secure: bool = False,
        verify: bool = True,
        ca_certs: str | None = None,
        connect_timeout: float = 10.0,
        send_receive_timeout: float = 300.0,
        compression: bool = False,
    ) -> None:
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        connection: dict[str, Any] = {
            "port": port,
            "user": user,
            "password": secret.get_secret_value(),
            "secure": secure,
            "verify": verify,
            "ca_certs": ca_certs,
            "connect_timeout": connect_timeout,
            "send_receive_timeout": send_receive_timeout,
            "compression": compression,
            "client_name": "dana-workflows",
        }
        # in the server's default database: the writer creates the DSN's database, so it may not be there yet
        self._client = Client(host, **connection)
        self._connection = connection
        self._users: Client | None = None  # user SQL's connection, made at the first query()
        self._lock = threading.Lock()  # one clickhouse-driver connection; it is not thread-safe
        self._version: tuple[int, ...] | None = None
        self._unsure: set[str] = set()  # batches whose last attempt failed with an unknown outcome
        self._told_no_select = False
        self._profile_readonly: bool | None = None  # the user's profile enforces readonly itself
        self._schema_ready = False

    @classmethod
    def from_config(cls, config: ClickHouseServerConfig) -> ServerAuditStore:
        return cls(
            config.host,
            config.port,
            config.database,
            config.user,
            config.password,
            secure=config.secure,
            verify=config.verify,
            ca_certs=config.ca_certs,
            connect_timeout=config.connect_timeout,
            send_receive_timeout=config.send_receive_timeout,
            compression=config.compression,
        )

    @classmethod
    def from_dsn(cls, dsn: str) -> ServerAuditStore:
        from dana_workflows.sinks.dsn import ClickHouseServerConfig, DsnError, parse_dsn

        config = parse_dsn(dsn)
        if not isinstance(config, ClickHouseServerConfig):
            raise DsnError(f"ServerAuditStore needs a clickhouse:// DSN, got {config.redacted()!r}")
        return cls.from_config(config)

    def __repr__(self) -> str:
        return f"ServerAuditStore({self.user}@{self.host}:{self.port}/{self.database})"

    @property
    def table(self) -> str:
        return f"{self.database}.{AUDIT_TABLE}"

    def _execute(self, sql: str, params: Any = None, *, on: Client | None = None, **kwargs: Any) -> Any:
        client = on or self._client
        with self._lock:
            try:
                return client.execute(sql, params, **kwargs)
            except BaseException:
                client.disconnect()  # the next call starts a fresh connection
                raise

    def server_version(self) -> tuple[int, ...]:
        if self._version is None:
            self._version = ddl.parse_version(str(self._execute("SELECT version()")[0][0]))
        return self._version

    @property
    def supports_dedup_token(self) -> bool:
        return ddl.supports_dedup_token(self.server_version())

    def ensure_schema(self) -> None:
        """The table, made if missing. A server's refusal here (a wrong password, no right to create the
        table) is the user's to fix before any event: one AuditStoreError naming the store, not the
        driver's exception with the server's stack trace."""
        try:
            version = self.server_version()
            # An INSERT-only writer has no DDL rights, even for CREATE ... IF NOT EXISTS: look first.
            if self._execute(f"EXISTS TABLE {self.database}.{AUDIT_TABLE}")[0][0] == 1:
                self._schema_ready = True
                return
            self._execute(ddl.create_database(self.database))
            self._execute(ddl.create_events_table(self.database, version))
        except ServerException as exc:
            raise AuditStoreError(
                f"audit store {self!r}: the server refused: {server_message(exc)}"
            ) from None
        self._schema_ready = True

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        if not rows:
            return
        if not self._schema_ready:  # like the chdb store: a writer needs no separate setup step
            self.ensure_schema()
        dedup = self.supports_dedup_token
        key = dedup_token or f"{rows[0].hash}-{rows[-1].hash}-{len(rows)}"
        if not dedup and key in self._unsure:
            rows = self._missing(rows)
            if not rows:
                self._unsure.discard(key)
                return
        columns = columns_of(rows)
        settings = {"insert_deduplication_token": dedup_token} if dedup and dedup_token else None
        try:
            self._execute(
                f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES",
                columns,
                columnar=True,
                settings=settings,
            )
        except BaseException:
            if not dedup:
                self._unsure.add(key)
            raise
        self._unsure.discard(key)

    def _missing(self, rows: Sequence[AuditRow]) -> list[AuditRow]:
        """The rows of a batch not yet in the table."""
        present = self.present(rows)
        return [r for r in rows if r.hash not in present]

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        """A writer that may only INSERT (docs/audit.md, roles) cannot look: it is told once, and replays
        then rely on the deduplication token alone (ClickHouse >= 22.2)."""
        try:
            return stored_hashes(self._read, self.table, rows)
        except ServerException as exc:
            if exc.code != _ACCESS_DENIED:
                raise
            if not self._told_no_select:
                self._told_no_select = True
                log.warning(
                    "audit writer %s may not SELECT from %s: replayed batches are deduplicated by their "
                    "token only; GRANT SELECT(workflow, run_id, hash) ON %s lets it leave out rows "
                    "stored already (docs/audit.md, roles)",
                    self.user,
                    self.table,
                    self.table,
                )
            return set()

    def query(self, sql: str) -> QueryResult:
        """User SQL: one reading statement, run with readonly=1 so the server refuses writes, settings
        and table functions (sinks.read_only); a refusal or a failure is one line, not a server trace."""
        try:
            check_read_only(sql)  # the friendly first message; the server's readonly is the guard
            return self._read(sql, on=self._users_client())
        except NotReadOnlyError as exc:
            raise AuditStoreError(str(exc)) from None
        except ServerException as exc:
            raise AuditStoreError(f"the server refused the query: {server_message(exc)}") from None

    def _users_client(self) -> Client:
        """User SQL (`audit sql`, the readers) runs in the DSN's database: `FROM events` is this store's
        table, and a database that is not there is refused at once, in one line."""
        if self._users is None:
            self._users = Client(self.host, database=self.database, **self._connection)
        return self._users

    def _read(self, sql: str, on: Client | None = None) -> QueryResult:
        settings = None if self._readonly_by_profile() else READONLY_SETTINGS
        rows, types = self._execute(sql, on=on, with_column_types=True, settings=settings)
        return QueryResult(columns=[name for name, _ in types], rows=[tuple(r) for r in rows])

    def _readonly_by_profile(self) -> bool:
        """A user whose profile is readonly=1 may not pass settings at all, not even readonly; the server
        enforces read-only for it anyway. Asked once with a fixed probe, never decided from user SQL (a
        query's own `SETTINGS readonly=0` is refused the same way and must stay refused)."""
        if self._profile_readonly is None:
            try:
                self._execute("SELECT 1", settings=READONLY_SETTINGS)
                self._profile_readonly = False
            except ServerException as exc:
                if exc.code != _READONLY:
                    raise
                self._profile_readonly = True
        return self._profile_readonly

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
            if self._users is not None:
                self._users.disconnect()


def server_message(exc: ServerException) -> str:
    """The server's error in one line: its code and first sentence, without the server's stack trace."""
    text = str(exc.message).strip()
    first = text.splitlines()[0] if text else ""
    first = first.split(" Stack trace:", 1)[0].removeprefix("DB::Exception: ").strip()
    return f"{first} (code {exc.code})"
