"""``knowledge sync``: read every declared source, score it, store what changed.

Each source is read whole before anything of it is stored; a source that fails (unreadable, too big,
a failing query) is reported with its reason and leaves its previous version in place, the others
are synced. See store.py for why a half-written sync is never served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dana_workflows.core.clock import Clock, wall_clock_us
from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.file_source import read_files
from dana_workflows.knowledge.quality import SourceQuality, score_sources
from dana_workflows.knowledge.query_source import Query, read_audit, read_table
from dana_workflows.knowledge.store import KnowledgeStore, SyncRecord
from dana_workflows.workflow.ir import WorkflowIR
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

QueryFor = Callable[[str | None], tuple[Query, str]]  # source DSN (None: the audit's) -> (query, database)


@dataclass(slots=True)
class SyncReport:
    synced: dict[str, SyncRecord] = field(default_factory=dict)  # sources whose content changed
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source -> reason
    quality: dict[str, SourceQuality] = field(default_factory=dict)


def read_source(source: KnowledgeSourceIR, ir: WorkflowIR, query_for: QueryFor) -> list[Chunk]:
    if source.kind == "files":
        return read_files(source, Path(ir.source).parent if ir.source != "<python>" else Path("."))
    query, database = query_for(source.dsn)
    if source.kind == "clickhouse":
        return read_table(source, query)
    return read_audit(source, query, database, ir.name)


def sync(
    ir: WorkflowIR,
    store: KnowledgeStore,
    query_for: QueryFor,
    *,
    only: set[str] | None = None,
    clock: Clock = wall_clock_us,
) -> SyncReport:
    report = SyncReport()
    declared = {s.id: s for s in ir.knowledge.sources}
    unknown = sorted((only or set()) - set(declared))
    if unknown:
        raise KnowledgeError(f"unknown sources {unknown}; the spec declares {sorted(declared) or 'none'}")
    read: dict[str, list[Chunk]] = {}
    for name, source in declared.items():
        if only and name not in only:
            continue
        try:
            read[name] = read_source(source, ir, query_for)
        except KnowledgeError as exc:
            report.failed[name] = str(exc)
    now = clock()
    report.quality = score_sources(declared, read, now)
    for name, chunks in read.items():
        declaration = declared[name].model_dump(mode="json")
        record = store.record_sync(name, chunks, report.quality[name].as_dict(), declaration, now)
        if record is None:
            report.unchanged.append(name)
        else:
            report.synced[name] = record
    return report
