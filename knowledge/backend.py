"""Where the knowledge store's tables live: chdb in a local directory (default) or a ClickHouse server.

The DSN is the audit store's format (``chdb://.dwf/knowledge``, ``clickhouse://user:pw@host:9000/dwf``),
parsed by the same code. This module only runs statements; the tables and what goes in them are
``store``'s business. Both backends take SQL and rows of plain values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from dana_workflows.core.settings import Settings
from dana_workflows.knowledge.errors import KnowledgeDsnError, KnowledgeError
from dana_workflows.sinks.dsn import ChdbConfig, ClickHouseServerConfig, DsnError, parse_dsn

# the embedded store in a directory of its own, not the audit's (chdb serves one directory per process,
# docs/context.md): the settings' default is its one home, the store's default and the errors' example
DEFAULT_DSN: str = Settings.model_fields["knowledge_dsn"].default


class SqlBackend(Protocol):
    database: str
    where: str  # the store's DSN without its password, for messages

    def execute(self, sql: str) -> None: ...

    def select(self, sql: str) -> list[tuple[Any, ...]]: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...

    def close(self) -> None: ...


class ChdbBackend:
    """chdb serves one directory per process: use a directory of its own, not the audit store's."""

    def __init__(self, path: Path, database: str) -> None:
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self.database = database
        self.where = f"chdb://{path}"
        try:
            self._session: Any = session.Session(str(path))  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise KnowledgeError(
                f"the knowledge store {self.where} cannot be opened ({str(exc).splitlines()[0]}): another "
                "process or store holds chdb in this process; stop it, or set DWF_KNOWLEDGE_DSN to a "
                "ClickHouse server"
            ) from None

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        try:
            return self._session.query(sql, fmt)
        except Exception as exc:
            raise KnowledgeError(f"knowledge store {self.where}: {str(exc).splitlines()[0]}") from None

    def execute(self, sql: str) -> None:
        self._run(sql)

    def select(self, sql: str) -> list[tuple[Any, ...]]:
        raw = self._run(sql, "JSONCompact").bytes()
        if not raw:
            return []
        return [tuple(r) for r in json.loads(raw)["data"]]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        body = "\n".join(json.dumps(dict(zip(columns, r, strict=True))) for r in rows)
        self._run(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow\n{body}")

    def close(self) -> None:
        self._session.close()


class ServerBackend:
    def __init__(self, config: ClickHouseServerConfig) -> None:
        from clickhouse_driver import Client

        self.database = config.database
        self.where = config.redacted()
        self._client = Client(
            config.host,
            port=config.port,
            user=config.user,
            password=config.password.get_secret_value(),
            secure=config.secure,
            verify=config.verify,
            ca_certs=config.ca_certs,
            connect_timeout=config.connect_timeout,
            send_receive_timeout=config.send_receive_timeout,
            client_name="dana-workflows-knowledge",
        )
        self._lock = threading.Lock()  # one connection; clickhouse-driver's is not thread-safe

    def _run(self, sql: str, params: Any = None) -> Any:
        with self._lock:
            try:
                return self._client.execute(sql, params)
            except Exception as exc:
                self._client.disconnect()
                raise KnowledgeError(f"knowledge store {self.where}: {str(exc).splitlines()[0]}") from None

    def execute(self, sql: str) -> None:
        self._run(sql)

    def select(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._run(sql)]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", [tuple(r) for r in rows])

    def close(self) -> None:
        self._client.disconnect()


def open_backend(dsn: str) -> SqlBackend:
    try:
        config = parse_dsn(dsn, store="knowledge", chdb_example=DEFAULT_DSN)
    except DsnError as exc:
        raise KnowledgeDsnError(str(exc)) from None
    if isinstance(config, ChdbConfig):
        return ChdbBackend(config.path, config.database)
    return ServerBackend(config)
