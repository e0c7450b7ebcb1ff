"""A files source: one file or a folder of Markdown, text, JSON (or JSON lines) and CSV files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dana_workflows.core.yaml_errors import yaml_error_problem
from dana_workflows.knowledge.chunks import Chunk, make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.records import record_chunks, scalar
from dana_workflows.knowledge.text_split import markdown_sections, split_front_matter, text_sections
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

SUFFIXES = (".md", ".markdown", ".txt", ".json", ".jsonl", ".csv")


def read_files(source: KnowledgeSourceIR, base_dir: Path) -> list[Chunk]:
    """Every chunk of the source, or KnowledgeError naming the file and the fix (nothing partial)."""
    assert source.path is not None
    root = Path(source.path) if Path(source.path).is_absolute() else base_dir / source.path
    if root.is_file():
        files = [root]
        top = root.parent
    elif root.is_dir():
        files = sorted(p for p in root.glob(source.glob) if p.is_file() and p.suffix.lower() in SUFFIXES)
        top = root
    else:
        raise KnowledgeError(f"source {source.id!r}: {root} does not exist; fix path (relative to the spec)")
    if not files:
        raise KnowledgeError(
            f"source {source.id!r}: no {', '.join(SUFFIXES)} files under {root} match {source.glob!r}"
        )
    chunks: list[Chunk] = []
    for path in files:
        chunks.extend(_read_one(source, path, path.relative_to(top).as_posix()))
    return chunks


def _read_one(source: KnowledgeSourceIR, path: Path, rel: str) -> list[Chunk]:
    try:
        size = path.stat().st_size
        if size > source.max_file_bytes:
            raise KnowledgeError(
                f"source {source.id!r}: {path} is {size} bytes, over max_file_bytes "
                f"({source.max_file_bytes}); split the file or raise max_file_bytes"
            )
        text = path.read_text(encoding="utf-8")
        mtime_us = path.stat().st_mtime_ns // 1000
    except OSError as exc:
        raise KnowledgeError(f"source {source.id!r}: cannot read {path} ({exc.strerror}); check it") from None
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            f"source {source.id!r}: {path} is not UTF-8 text ({exc.reason}); convert it"
        ) from None
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return _markdown(source, path, rel, text, mtime_us)
    if suffix == ".txt":
        meta = {"doc": rel}
        return [
            make_chunk(f"{source.id}:{rel}#{s.key}", source.id, s.body, meta, mtime_us)
            for s in text_sections(text, source.max_chunk_tokens)
        ]
    if suffix in (".json", ".jsonl"):
        return record_chunks(source, _json_records(source, path, text, suffix), rel, mtime_us)
    return record_chunks(source, list(csv.DictReader(io.StringIO(text))), rel, mtime_us)


def _markdown(source: KnowledgeSourceIR, path: Path, rel: str, text: str, mtime_us: int) -> list[Chunk]:
    front, body = split_front_matter(text)
    meta: dict[str, Any] = {}
    if front is not None:
        try:
            loaded = YAML(typ="safe").load(front) or {}
        except YAMLError as exc:
            raise KnowledgeError(
                f"source {source.id!r}: {path}: front matter is not valid YAML ({yaml_error_problem(exc)})"
            ) from None
        if not isinstance(loaded, dict):
            raise KnowledgeError(f"source {source.id!r}: {path}: front matter must be a mapping of fields")
        meta = {str(k): scalar(v) for k, v in loaded.items() if not isinstance(v, dict | list)}
    title, sections = markdown_sections(body, source.max_chunk_tokens)
    title = str(meta.get("title") or title or path.stem)
    chunks = []
    for s in sections:
        head = f"{title} / {s.heading}" if s.heading and s.heading != title else title
        chunk_meta = {**meta, "doc": rel, "section": s.heading}
        chunks.append(
            make_chunk(f"{source.id}:{rel}#{s.key}", source.id, f"{head}\n{s.body}", chunk_meta, mtime_us)
        )
    return chunks


def _json_records(source: KnowledgeSourceIR, path: Path, text: str, suffix: str) -> list[Any]:
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KnowledgeError(
            f"source {source.id!r}: {path} line {exc.lineno}: not valid JSON ({exc.msg}); fix the file"
        ) from None
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        return lists[0] if len(lists) == 1 else [doc]
    if isinstance(doc, list):
        return doc
    raise KnowledgeError(f"source {source.id!r}: {path} holds a JSON {type(doc).__name__}; give objects")
