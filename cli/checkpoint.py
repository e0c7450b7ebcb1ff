"""``dana-wf audit checkpoint keygen | create | verify``: signed Merkle checkpoints of the audit log in
write-once storage, and the proof that the log still extends every one of them (docs/audit.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dana_workflows.cli.conventions import EXIT_CHAIN_BROKEN, EXIT_USAGE, fail
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.core.clock import wall_clock_us
from dana_workflows.core.settings import load_settings
from dana_workflows.sinks import checkpoints
from dana_workflows.sinks.checkpoint_keys import CheckpointKeyError, key_to_verify, signing_key, write_new_key
from dana_workflows.sinks.checkpoint_storage import CheckpointStorage, StorageError, open_storage

app = typer.Typer(
    no_args_is_help=True, help="Signed Merkle checkpoints of the audit log (write-once storage)."
)

AuditOpt = Annotated[str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN)")]
WorkflowOpt = Annotated[list[str] | None, typer.Option("--workflow", "-w", help="only these workflows")]


def _storage(target: str) -> CheckpointStorage:
    settings = load_settings()
    try:
        return open_storage(
            target,
            s3_endpoint=settings.checkpoint_s3_endpoint,
            retention_days=settings.checkpoint_retention_days,
        )
    except StorageError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


@app.command()
def keygen(out: Annotated[Path, typer.Option("--out", help="where the private key goes (0600)")]) -> None:
    """Make an Ed25519 signing key; its public key goes next to it as OUT.pub (hand that to the auditors)."""
    try:
        public = write_new_key(out)
    except CheckpointKeyError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    typer.echo(f"private key {out} (keep it secret; DWF_AUDIT_SIGNING_KEY_FILE={out})")
    typer.echo(f"public key  {public} (verify with --public-key {public})")


@app.command()
def create(
    to: Annotated[str, typer.Option("--to", help="a directory, or s3://BUCKET[/PREFIX] with Object Lock")],
    audit: AuditOpt = None,
    workflow: WorkflowOpt = None,
    lag_s: Annotated[
        float, typer.Option(help="commit rows older than this many seconds (batches still in flight wait)")
    ] = 60.0,
) -> None:
    """Commit every workflow's rows up to now - LAG, sign the Merkle root, export it once."""
    try:
        key = signing_key(load_settings())
    except CheckpointKeyError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    storage = _storage(to)
    store = open_audit_for_reading(audit)
    try:
        as_of = wall_clock_us() - int(lag_s * 1_000_000)
        names = workflow or checkpoints.workflows_in(store)
        if not names:
            raise fail("the audit store holds no rows yet: nothing to checkpoint")
        for name in names:
            made = checkpoints.create(store, storage, key, name, as_of)
            typer.echo(json.dumps(checkpoints.describe(made)))
    except (checkpoints.CheckpointError, StorageError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


@app.command()
def verify(
    source: Annotated[str, typer.Option("--from", help="where the checkpoints were exported")],
    public_key: Annotated[
        Path | None, typer.Option(help="the auditors' copy of the public key (default: from the signing key)")
    ] = None,
    audit: AuditOpt = None,
    workflow: WorkflowOpt = None,
) -> None:
    """Prove the audit log extends every exported checkpoint: name each deleted, cut, altered or backdated
    row."""
    try:
        public = key_to_verify(public_key, load_settings())
    except CheckpointKeyError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    storage = _storage(source)
    store = open_audit_for_reading(audit)
    try:
        result = checkpoints.verify(store, storage, public, workflow)
    except (checkpoints.CheckpointError, StorageError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if result.checkpoints == 0:
        raise fail(f"no checkpoints found in {source}")
    for finding in result.findings:
        typer.echo(f"{finding.kind}: {finding.workflow}: {finding.message}")
    verdict = "log extends every checkpoint" if result.ok else f"{len(result.findings)} findings"
    typer.echo(f"{result.checkpoints} checkpoints, {result.rows_committed} committed rows: {verdict}")
    if not result.ok:
        raise typer.Exit(EXIT_CHAIN_BROKEN)
