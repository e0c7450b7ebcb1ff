"""`dana-wf knowledge sync | ls | show | diff`: curate what the llm steps draw on (docs/context.md)."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail, quieted
from dana_workflows.knowledge.errors import KnowledgeDsnError, KnowledgeError
from dana_workflows.knowledge.quality import LOW
from dana_workflows.knowledge.store import KnowledgeStore, SyncRecord
from dana_workflows.sinks.audit_model import store_database

app = typer.Typer(no_args_is_help=True, help="Sync, list, show and diff knowledge sources.")
console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns
err = Console(stderr=True, soft_wrap=True)

DsnOpt = Annotated[str | None, typer.Option("--dsn", help="knowledge store DSN (default: DWF_KNOWLEDGE_DSN)")]


def _when(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _knowledge_dsn(dsn: str | None) -> str:
    """--dsn, else knowledge_dsn of the settings every command reads (the config file included, as
    `dana-wf run` reads it: a sync must write where the run looks)."""
    from dana_workflows.core.settings import load_settings

    return dsn or load_settings().knowledge_dsn


@contextmanager
def _store(dsn: str | None) -> Iterator[KnowledgeStore]:
    target = _knowledge_dsn(dsn)
    # clickhouse-driver logs "Failed to connect" with a traceback before the store's error: said once, below
    with quieted("clickhouse_driver", level=logging.ERROR):
        try:
            store = KnowledgeStore.open(target)
        except KnowledgeDsnError as exc:  # a value the user can fix: a usage error (docs/cli.md)
            raise fail(str(exc), EXIT_USAGE) from None
        except KnowledgeError as exc:
            raise fail(f"{exc}{_server_hint(target, exc)}") from None
        try:
            yield store
        except KnowledgeError as exc:
            raise fail(f"{exc}{_server_hint(target, exc)}") from None
        finally:
            store.close()


@contextmanager
def _reader(dsn: str | None) -> Iterator[KnowledgeStore | None]:
    """The store for a command that only reads it; None (read as empty) when it is an embedded store that
    does not exist yet, which opening would create (`knowledge ls` in a new directory left .dwf/knowledge)."""
    from dana_workflows.sinks.dsn import ChdbConfig, DsnError, parse_dsn

    target = _knowledge_dsn(dsn)
    try:
        config = parse_dsn(target)
    except DsnError:
        config = None  # _store says what is wrong with it
    if isinstance(config, ChdbConfig) and not Path(config.path).exists():
        yield None
        return
    with _store(target) as store:
        yield store


def _server_hint(target: str, exc: KnowledgeError) -> str:
    if not target.startswith("clickhouse://") or "Connection refused" not in str(exc):
        return ""
    return "; is its server running? (name another store with --dsn or DWF_KNOWLEDGE_DSN)"


@app.command()
def sync(
    spec: Annotated[Path, typer.Argument(help="workflow spec with a knowledge section")],
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="only these sources")] = None,
    dsn: DsnOpt = None,
) -> None:
    """Read every declared source, score it, and store what changed (a new version per changed chunk)."""
    from dana_workflows.cli.specs import spec_or_exit
    from dana_workflows.core.settings import load_settings
    from dana_workflows.knowledge.sync import sync as run_sync
    from dana_workflows.sinks.stores import open_store

    ir = spec_or_exit(spec)  # a spec it cannot read is the user's file to fix: exit 2 (docs/cli.md)
    if not ir.knowledge.sources:
        raise fail(f"{spec} declares no knowledge sources; add a 'knowledge: {{sources: [...]}}' section")
    settings = load_settings()  # the audit store its sources read by default: the config file's too
    opened: list[Any] = []

    def query_for(source_dsn: str | None) -> Any:
        # writer=True: the embedded audit store is read by a child process, so this process can hold the
        # knowledge store's chdb directory at the same time (chdb: one directory per process)
        store = open_store(source_dsn or settings.audit_dsn, writer=True)
        opened.append(store)
        return store.query, store_database(store)

    with _store(dsn or ir.knowledge.store) as store:
        try:
            report = run_sync(ir, store, query_for, only=set(source) if source else None)
        finally:
            for s in opened:
                s.close()
    table = Table("source", "result", "chunks", "quality", "flags")
    for name, q in sorted(report.quality.items()):
        record = report.synced.get(name)
        result = f"new version {record.sync_id[:8]}" if record else "unchanged"
        flags = ("[red]LOW[/red] " if q.low else "") + "; ".join(q.reasons)
        table.add_row(name, result, str(len(q.chunks)), f"{q.score:.2f}", flags)
    for name, reason in sorted(report.failed.items()):
        table.add_row(name, "[red]failed[/red]", "-", "-", reason)
    console.print(table)
    if report.failed:
        raise fail(f"{len(report.failed)} source(s) not synced; their previous version stays in use")


@app.command("ls")
def list_sources(dsn: DsnOpt = None) -> None:
    """The sources in the store: latest sync, chunk count, quality (LOW ones with their reasons)."""
    with _reader(dsn) as store:
        latest = store.latest() if store else {}
        history = {s: len(store.history(s)) for s in latest} if store else {}
    if not latest:
        console.print("no knowledge synced yet: run `dana-wf knowledge sync SPEC`")
        return
    table = Table("source", "kind", "synced", "versions", "chunks", "quality", "flags")
    for name, rec in latest.items():
        score = float(rec.quality.get("score", 0.0))
        flags = ("[red]LOW[/red] " if score < LOW else "") + "; ".join(rec.quality.get("reasons", []))
        kind = str(rec.declaration.get("kind", ""))
        table.add_row(
            name, kind, _when(rec.ts_us), str(history[name]), str(len(rec.manifest)), f"{score:.2f}", flags
        )
    console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="a source (its chunks) or a chunk id (its versions)")],
    dsn: DsnOpt = None,
) -> None:
    """A source's chunks with their quality, or one chunk's text and every version it had."""
    with _reader(dsn) as store:
        latest = store.latest() if store else {}
        if name in latest:
            rec = latest[name]
            per = rec.quality.get("chunks", {})
            table = Table("chunk", "version", "quality", "missing")
            for chunk_id, version in rec.manifest:
                q = per.get(chunk_id, {})
                table.add_row(chunk_id, version, f"{q.get('score', 0):.2f}", ", ".join(q.get("missing", [])))
            console.print(table)
            return
        versions = store.chunk_versions(name) if store else []
    if not versions:
        raise fail(f"no source or chunk {name!r}; `dana-wf knowledge ls` lists the sources")
    current = latest.get(versions[0].source)
    in_use = current.versions().get(name) if current else None
    for chunk in versions:
        mark = " (current)" if chunk.version == in_use else ""
        console.print(f"[bold]{chunk.chunk_id}[/bold] version {chunk.version}{mark}")
    last = next((c for c in versions if c.version == in_use), versions[-1])
    console.print(json.dumps(last.meta, sort_keys=True), markup=False)
    console.print(last.text, markup=False)


@app.command()
def diff(
    source: Annotated[str, typer.Argument(help="a source")],
    old: Annotated[
        str | None, typer.Option("--from", help="sync id (prefix); default: the one before the latest")
    ] = None,
    new: Annotated[str | None, typer.Option("--to", help="sync id (prefix); default: the latest")] = None,
    dsn: DsnOpt = None,
) -> None:
    """What changed in a source between two syncs: chunks added, removed, and changed (with the text diff)."""
    with _reader(dsn) as store:
        history = store.history(source) if store else []
        if store is None or not history:
            raise fail(f"no syncs of source {source!r}; `dana-wf knowledge ls` lists the sources")
        b = _pick(history, new, len(history) - 1)
        a = _pick(history, old, len(history) - 2) if len(history) > 1 or old else None
        before = a.versions() if a else {}
        after = b.versions()
        changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
        wanted = [*((k, before[k]) for k in changed), *((k, after[k]) for k in changed)]
        found = {c.ref(): c for c in store.chunks(source, wanted)}
    console.print(
        f"{source}: {a.sync_id[:8] + ' ' + _when(a.ts_us) if a else '(nothing)'} -> "
        f"{b.sync_id[:8]} {_when(b.ts_us)}"
    )
    for k in sorted(after.keys() - before.keys()):
        console.print(f"[green]+ {k}[/green] {after[k]}")
    for k in sorted(before.keys() - after.keys()):
        console.print(f"[red]- {k}[/red] {before[k]}")
    for k in changed:
        console.print(f"[yellow]~ {k}[/yellow] {before[k]} -> {after[k]}")
        old_chunk, new_chunk = found.get((k, before[k])), found.get((k, after[k]))
        if old_chunk is None or new_chunk is None:
            continue
        was_text, now_text = old_chunk.text.splitlines(), new_chunk.text.splitlines()
        lines = difflib.unified_diff(was_text, now_text, lineterm="", n=0)
        for line in list(lines)[2:]:
            console.print(f"    {line}", markup=False)
        for name in sorted(old_chunk.meta.keys() | new_chunk.meta.keys()):
            was, now = old_chunk.meta.get(name), new_chunk.meta.get(name)
            if was != now:
                console.print(f"    meta {name}: {was!r} -> {now!r}", markup=False)
    if before == after:
        console.print("no changes")


def _pick(history: list[SyncRecord], prefix: str | None, default: int) -> SyncRecord:
    """The sync `prefix` starts the id of (`--from`/`--to`), else the one at `default`. A prefix that names
    no sync, or more than one, is a usage error that lists the source's syncs: `knowledge ls` shows none
    of their ids, and the id `sync` printed belongs to the store it synced into."""
    if prefix is None:
        return history[max(default, 0)]
    hits = [r for r in history if r.sync_id.startswith(prefix)]
    if len(hits) == 1:
        return hits[0]
    syncs = ", ".join(f"{r.sync_id[:8]} ({_when(r.ts_us)})" for r in reversed(history))
    found = "no sync" if not hits else f"{len(hits)} syncs"
    raise fail(
        f"sync {prefix!r} matches {found} of source {history[0].source!r}; its syncs, latest first: {syncs}",
        EXIT_USAGE,
    )
