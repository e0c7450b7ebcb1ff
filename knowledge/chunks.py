"""A chunk: the unit of knowledge that is scored, selected, versioned and audited.

Its id is stable across syncs (source, document, section or record key), its version is the content
hash: the same text and metadata always give the same version, any change gives a new one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.schemas.canonical import canonical_json

VERSION_CHARS = 16  # 64 bits of SHA-256: collisions within one chunk's history are not a concern


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: str  # "<source>:<document>#<section>" or "<source>:<record key>"
    source: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)  # front matter, record fields, file facts
    version: str = ""  # content hash, set by make_chunk
    updated_us: int = 0  # when the content last changed at its origin (file mtime, row time), 0: unknown

    def ref(self) -> tuple[str, str]:
        return (self.chunk_id, self.version)


def content_version(text: str, meta: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json([text, meta]).encode("utf-8")).hexdigest()
    return digest[:VERSION_CHARS]


def make_chunk(chunk_id: str, source: str, text: str, meta: dict[str, Any], updated_us: int = 0) -> Chunk:
    return Chunk(chunk_id, source, text, meta, content_version(text, meta), updated_us)


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A section heading as an id part: lower case, runs of other characters as one '-'."""
    return _SLUG.sub("-", text.lower()).strip("-") or "section"
