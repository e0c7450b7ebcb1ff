"""Opening the audit store for a command that reads it: one place for the errors a user can fix.

The audit commands only read: an embedded store that is not there is an error, never created empty.
"""

from __future__ import annotations

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_USAGE, fail
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
        return open_audit_store(target)
    except (AuditStoreError, DsnError) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # clickhouse-driver's network errors, among others
        raise fail(f"cannot open the audit store {mask_text(target)}: {exc}") from None
