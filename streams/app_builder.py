"""Build the pieces every command needs from a spec path and the settings: pipeline, topology, store."""

from __future__ import annotations

from pathlib import Path

from processors.chain import Pipeline, compile_pipeline
from schemas.registry import FileRegistry
from sinks.audit_model import AuditStore
from streams.settings import Settings
from streams.topology import Topology
from workflow.spec import load_spec


def load_pipeline(spec_path: str | Path) -> Pipeline:
    return compile_pipeline(load_spec(spec_path))


def registry_for(settings: Settings) -> FileRegistry:
    url = settings.schema_registry
    if not url.startswith("file://"):
        raise ValueError(
            f"schema_registry {url!r}: only file:// registries are supported (DWF_SCHEMA_REGISTRY)"
        )
    return FileRegistry(Path(url.removeprefix("file://")))


def topology_for(pipeline: Pipeline, settings: Settings) -> Topology:
    return Topology(pipeline, registry_for(settings), prefix=settings.topic_prefix)


def open_audit_store(dsn: str, *, writer: bool = False) -> AuditStore:
    """chdb://PATH (embedded, default) or clickhouse://user:pass@host:port/db (server).

    writer=True: for streaming rows in (see sinks.dsn.open_store)."""
    from sinks.dsn import open_store

    return open_store(dsn, writer=writer)
