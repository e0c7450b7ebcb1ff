"""Build the pieces every command needs from a spec path and the settings: pipeline, topology, store."""

from __future__ import annotations

from pathlib import Path

from dana_workflows.core.masking import mask_text
from dana_workflows.core.settings import REGISTRY_URL_HINT, Settings
from dana_workflows.processors.pipeline import CompileError, Pipeline, compile_pipeline
from dana_workflows.schemas.registry import FileRegistry, SchemaRegistry
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.errors import SpecError, SpecProblem
from dana_workflows.workflow.spec import load_spec


def load_pipeline(spec_path: str | Path) -> Pipeline:
    """The spec read, checked and compiled; what stops the compile (a transform function that cannot be
    imported, a ladder that cannot work) is a SpecError naming the file, like any other spec mistake."""
    ir = load_spec(spec_path)
    try:
        return compile_pipeline(ir)
    except CompileError as exc:
        raise SpecError([SpecProblem(str(spec_path), 0, "steps", str(exc))]) from None


def registry_for(settings: Settings) -> SchemaRegistry:
    """The registry of DWF_SCHEMA_REGISTRY: by default the file registry ``file://<data_dir>/schemas`` (its
    directory is created and checked writable here, so a read-only filesystem fails with the settings to
    change); an ``http(s)://`` URL is a Confluent-compatible registry (schemas/confluent_registry.py)."""
    url = settings.schema_registry_url()
    if url.startswith(("http://", "https://", "mock://")):
        from dana_workflows.schemas.confluent_registry import ConfluentRegistry

        return ConfluentRegistry.from_settings(settings)
    if not url.startswith("file://"):
        raise ValueError(f"DWF_SCHEMA_REGISTRY={mask_text(url)}: {REGISTRY_URL_HINT}")
    registry = FileRegistry(Path(url.removeprefix("file://")))
    registry.check_writable()
    return registry


def topology_for(pipeline: Pipeline, settings: Settings) -> Topology:
    return Topology(pipeline, registry_for(settings), prefix=settings.topic_prefix)


def open_audit_store(dsn: str, *, writer: bool = False) -> AuditStore:
    """chdb://PATH (embedded, default) or clickhouse://user:pass@host:port/db (server).

    writer=True: for streaming rows in (see dana_workflows.sinks.stores.open_store)."""
    from dana_workflows.sinks.stores import open_store

    return open_store(dsn, writer=writer)
