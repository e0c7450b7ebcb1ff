"""Open the audit store a DSN names: the one place that knows every backend.

Kept apart from sinks/dsn.py (which only parses DSNs) so the backends, which read their settings from the
parsed config, and the parser do not import each other.
"""

from __future__ import annotations

import importlib.util

from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.dsn import ChdbConfig, StoreConfig, parse_dsn


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
