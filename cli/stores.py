"""Opening the audit store for a command that reads it: one place for the errors a user can fix.

The audit commands only read: an embedded store that is not there is an error, never created empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_USAGE, fail
from dana_workflows.core.masking import mask_text
from dana_workflows.core.settings import load_settings
from dana_workflows.sinks.audit_model import AuditStore

if TYPE_CHECKING:
    from dana_workflows.sinks.dsn import ChdbConfig, StoreConfig

NAME_ANOTHER = "--audit or DWF_AUDIT_DSN"  # how a command names another audit store


def open_audit_for_reading(
    dsn: str | None, missing_exit: int = EXIT_FAILURE, *, steps_run_here: bool = False
) -> AuditStore:
    """The audit store named by ``dsn`` (else the settings' DWF_AUDIT_DSN), or a typer.Exit after a
    one-line error that says what to do (bad DSN: exit 2; no embedded store: `missing_exit`; busy chdb,
    server down: exit 1).

    `steps_run_here`: the command runs workflow steps in this process (`review decide`, `dlq replay`), so an
    embedded store is served by its writer process, as `dana-wf run` serves it: chdb serves one directory
    per process, and a step's own embedded store (an llm step's knowledge store) must still open here."""
    target = dsn or load_settings().audit_dsn
    config = store_config(target)
    absent = absent_embedded_store(config)
    if absent is not None:
        raise fail(
            f"no audit store at {absent.path} ({absent}): run a workflow first (dana-wf run), "
            f"or name the store with {NAME_ANOTHER}",
            missing_exit,
        )
    return open_found_audit(target, config, writer=steps_run_here)


def open_found_audit(target: str, config: StoreConfig | None = None, *, writer: bool = False) -> AuditStore:
    """The audit store `target` names (`config`: it parsed already), for a command that has made sure
    itself that an embedded one is there (absent_embedded_store: shadow report, which waits for it or
    names the worker to start), or a typer.Exit after one line (busy chdb, server down: exit 1)."""
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.dsn import DsnError
    from dana_workflows.sinks.stores import open_store

    try:
        store = open_store(target if config is None else config, writer=writer)
    except (AuditStoreError, DsnError) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # clickhouse-driver's network errors, among others
        raise fail(f"cannot open the audit store {mask_text(target)}: {exc}") from None
    return reachable_or_exit(store, target)


def store_config(target: str) -> StoreConfig:
    """`target` parsed, or a typer.Exit(2) after the one line saying what is wrong with it."""
    from dana_workflows.sinks.dsn import DsnError, parse_dsn

    try:
        return parse_dsn(target)
    except DsnError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def absent_embedded_store(target: str | StoreConfig) -> ChdbConfig | None:
    """The embedded store `target` names when its directory is not there yet (opening would create it);
    None for a server or a store that is there. A DSN that does not parse is a typer.Exit(2) after its
    one line."""
    from dana_workflows.sinks.dsn import ChdbConfig

    config = store_config(target) if isinstance(target, str) else target
    return config if isinstance(config, ChdbConfig) and not config.path.exists() else None


def reachable_or_exit(store: AuditStore, target: str, *, refusal_ok: bool = False) -> AuditStore:
    """`store` once it has answered a query, else a typer.Exit(1) after one line naming it
    (sinks.stores.reach: the one home of that line, the Python API's too)."""
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.stores import reach

    try:
        return reach(store, target, elsewhere=NAME_ANOTHER, refusal_ok=refusal_ok)
    except AuditStoreError as exc:
        raise fail(str(exc)) from None


def check_audit_server(target: str) -> None:
    """Before a command writes to a ClickHouse server (`run --audit clickhouse://...`): it answers, or exit 1.

    An embedded store (chdb://) is left alone: the writer creates it, and it cannot be down."""
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.stores import check_server

    try:
        check_server(target, elsewhere=NAME_ANOTHER)
    except AuditStoreError as exc:
        raise fail(str(exc)) from None


def open_audit_for_writing(target: str) -> AuditStore:
    """The store `dana-wf worker` writes to, or a typer.Exit after one line: a DSN that does not parse
    exit 2, a server that is down or refuses this user exit 1 (docs/cli.md), before any topic is made."""
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.dsn import DsnError
    from dana_workflows.sinks.stores import open_writer

    try:
        return open_writer(target, elsewhere=NAME_ANOTHER)
    except DsnError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except AuditStoreError as exc:
        raise fail(str(exc)) from None
