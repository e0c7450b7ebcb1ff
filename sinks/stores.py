"""Open the audit store a DSN names: the one place that knows every backend.

Kept apart from sinks/dsn.py (which only parses DSNs) so the backends, which read their settings from the
parsed config, and the parser do not import each other.
"""

from __future__ import annotations

import importlib.util
import logging

from dana_workflows.core.masking import mask_text
from dana_workflows.core.quiet import quieted
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.dsn import ChdbConfig, ClickHouseServerConfig, StoreConfig, parse_dsn


def open_store(dsn: str | StoreConfig, *, writer: bool = False) -> AuditStore:
    """The store a DSN names, importing only that backend (chdb is heavy and not needed for a server).

    writer=True is for the processes that stream rows in (`dana-wf run`, workers): the embedded store
    then runs its inserts in a writer process of its own (sinks.chdb_process), off the pipeline's GIL.
    """
    config = parse_dsn(dsn) if isinstance(dsn, str) else dsn
    if isinstance(config, ChdbConfig):
        if importlib.util.find_spec("chdb") is None:  # the slim image (Dockerfile runtime-slim) has none
            from dana_workflows.sinks.chdb_store import AuditStoreError

            raise AuditStoreError(
                f"{config} is an embedded store, but chdb (the chdb-core package) is not installed here, "
                "as in the slim image: set DWF_AUDIT_DSN (or --audit) to a ClickHouse server, "
                "clickhouse://..., or install chdb-core"
            )
        if writer:
            from dana_workflows.sinks.chdb_process import ChdbProcessStore

            return ChdbProcessStore(config.path, database=config.database)
        from dana_workflows.sinks.chdb_store import ChdbAuditStore

        return ChdbAuditStore(str(config.path), database=config.database)
    from dana_workflows.sinks.clickhouse_server import ServerAuditStore

    return ServerAuditStore.from_config(config)


def reach(store: AuditStore, target: str, *, elsewhere: str, refusal_ok: bool = False) -> AuditStore:
    """`store` once it has answered a query, else an AuditStoreError (the store closed) whose one line
    names the DSN, password masked, and the fix; `elsewhere` says how to name another store (the CLI's
    "--audit or DWF_AUDIT_DSN", the Python API's "audit=").

    A server store connects on its first query, so a server that is down, or a wrong password, would
    otherwise surface as the driver's NetworkError and traceback in the middle of a command or a run. A
    reader refused `SELECT 1` is refused its own query too; a writer (`refusal_ok`) may be an INSERT-only
    role, so for it a refusal only shows that the server is up."""
    from dana_workflows.sinks.chdb_store import AuditStoreError

    try:
        # the driver's 'Failed to connect' warning has a traceback: we say it below
        with quieted("clickhouse_driver", level=logging.ERROR):
            store.query("SELECT 1")
    except AuditStoreError as exc:
        if not refusal_ok:
            store.close()
            raise AuditStoreError(f"audit store {mask_text(target)}: {exc}") from None
    except Exception as exc:  # clickhouse-driver's network errors: refused, timed out, reset
        store.close()
        raise AuditStoreError(
            f"cannot reach the audit store {mask_text(target)}: {exc}; is its server running? "
            f"(name another store with {elsewhere})"
        ) from None
    return store


def check_server(target: str, *, elsewhere: str) -> None:
    """Before rows are written to a ClickHouse server: it answers, or AuditStoreError (see `reach`).

    An embedded store (chdb://) is left alone: the writer creates it, and it cannot be down."""
    config = parse_dsn(target)
    if isinstance(config, ClickHouseServerConfig):
        reach(open_store(target), target, elsewhere=elsewhere, refusal_ok=True).close()


def open_writer(target: str, *, elsewhere: str) -> AuditStore:
    """The store a long-running writer (a Kafka worker, ``serve()``) streams rows into, checked before it
    touches Kafka: a DSN that does not parse is a DsnError; a server that is down, or refuses this user its
    table (a wrong password, no right to create it), an AuditStoreError with one line. Otherwise the worker
    would find out after making its topics and opening its metrics port, as the driver's traceback."""
    check_server(target, elsewhere=elsewhere)
    store = open_store(target, writer=True)
    if isinstance(parse_dsn(target), ClickHouseServerConfig):  # an embedded store is made by its writer
        try:
            store.ensure_schema()
        except BaseException:
            store.close()
            raise
    return store
