"""Opening the audit store for a command that reads it: one place for the errors a user can fix.

The audit commands only read: an embedded store that is not there is an error, never created empty.
"""

from __future__ import annotations

import logging

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_USAGE, fail, quieted
from dana_workflows.core.masking import mask_text
from dana_workflows.core.settings import load_settings
from dana_workflows.sinks.audit_model import AuditStore


def open_audit_for_reading(dsn: str | None, missing_exit: int = EXIT_FAILURE) -> AuditStore:
    """The audit store named by ``dsn`` (else the settings' DWF_AUDIT_DSN), or a typer.Exit after a
    one-line error that says what to do (bad DSN: exit 2; no embedded store: `missing_exit`; busy chdb,
    server down: exit 1)."""
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.dsn import ChdbConfig, DsnError, parse_dsn
    from dana_workflows.streams.app_builder import open_audit_store

    target = dsn or load_settings().audit_dsn
    try:
        config = parse_dsn(target)
    except DsnError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    if isinstance(config, ChdbConfig) and not config.path.exists():
        raise fail(
            f"no audit store at {config.path} ({config}): run a workflow first (dana-wf run), "
            "or name the store with --audit or DWF_AUDIT_DSN",
            missing_exit,
        )
    try:
        store = open_audit_store(target)
    except (AuditStoreError, DsnError) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # clickhouse-driver's network errors, among others
        raise fail(f"cannot open the audit store {mask_text(target)}: {exc}") from None
    return reachable_or_exit(store, target)


def reachable_or_exit(store: AuditStore, target: str, *, refusal_ok: bool = False) -> AuditStore:
    """`store` once it has answered a query, else a typer.Exit(1) after one line naming it.

    A server store connects on its first query, so a server that is down, or a wrong password, would
    otherwise surface as the driver's traceback in the middle of a command (`audit verify`, `audit report`,
    `run --audit`). A reader refused `SELECT 1` is refused its own query too; a writer (`refusal_ok`) may
    be an INSERT-only role, so for it a refusal only shows that the server is up."""
    from dana_workflows.sinks.chdb_store import AuditStoreError

    try:
        # the driver's 'Failed to connect' warning has a traceback: we say it below
        with quieted("clickhouse_driver", level=logging.ERROR):
            store.query("SELECT 1")
    except AuditStoreError as exc:
        if not refusal_ok:
            store.close()
            raise fail(f"audit store {mask_text(target)}: {exc}") from None
    except Exception as exc:  # clickhouse-driver's network errors: refused, timed out, reset
        store.close()
        raise fail(
            f"cannot reach the audit store {mask_text(target)}: {exc}; is its server running? "
            "(name another store with --audit or DWF_AUDIT_DSN)"
        ) from None
    return store


def check_audit_server(target: str) -> None:
    """Before a command writes to a ClickHouse server (`run --audit clickhouse://...`): it answers, or exit 1.

    An embedded store (chdb://) is left alone: the writer creates it, and it cannot be down."""
    from dana_workflows.sinks.dsn import ClickHouseServerConfig, parse_dsn
    from dana_workflows.streams.app_builder import open_audit_store

    if isinstance(parse_dsn(target), ClickHouseServerConfig):
        reachable_or_exit(open_audit_store(target), target, refusal_ok=True).close()
