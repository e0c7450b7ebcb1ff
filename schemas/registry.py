"""A file-backed schema registry with stable ids: the id is derived from the schema's fingerprint.

Ids are the first 31 bits of the SHA-256 fingerprint of the Parsing Canonical Form, so the same
schema gets the same id on every machine, and a registry directory can be rebuilt from the spec.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Protocol

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form


class SchemaRegistry(Protocol):
    """What the runtimes need of a registry: ids for the schemas they write, schemas for the ids they read.

    Two implementations: FileRegistry below (the embedded default, ids from fingerprints) and
    schemas/confluent_registry.py's ConfluentRegistry (a Confluent-compatible registry server).
    """

    def register(self, schema: dict[str, Any], subject: str | None = None) -> int:
        """The id of `schema`, registered under `subject` (None: the registry's own choice)."""
        ...

    def lookup(self, sid: int) -> dict[str, Any]:
        """The schema of id `sid`; UnknownSchemaError when the registry cannot give it."""
        ...

    def parsed(self, sid: int) -> Any:
        """lookup()'s schema parsed by fastavro (cached)."""
        ...


class UnknownSchemaError(LookupError):
    """A schema id this registry has never seen (e.g. from another cluster's registry)."""


class RegistryNotWritableError(OSError):
    """The registry directory cannot be created or written (e.g. under a read-only root filesystem)."""


def schema_id(schema: dict[str, Any]) -> int:
    canonical = to_parsing_canonical_form(fastavro.parse_schema(schema, _write_hint=False))
    digest = bytes.fromhex(fingerprint(canonical, "SHA-256"))
    return int(struct.unpack(">I", digest[:4])[0]) & 0x7FFFFFFF


class FileRegistry:
    """Schemas kept as `<id>.avsc` files under one directory; in-memory cache in front."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._by_id: dict[int, dict[str, Any]] = {}
        self._parsed: dict[int, Any] = {}

    def register(self, schema: dict[str, Any], subject: str | None = None) -> int:
        """The schema's fingerprint id; `subject` is ignored (a file registry has no subjects)."""
        sid = schema_id(schema)
        if sid not in self._by_id:
            self._by_id[sid] = schema
            if self.directory is not None:
                self._write(sid, schema)
        return sid

    def check_writable(self) -> None:
        """Create the directory if needed and make sure this process may write into it."""
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._not_writable(exc.strerror or str(exc)) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise self._not_writable("permission denied")

    def _not_writable(self, why: str) -> RegistryNotWritableError:
        return RegistryNotWritableError(
            f"schema registry directory {self.directory} is not writable ({why}): "
            "point DWF_SCHEMA_REGISTRY at file://<writable dir>, or DWF_DATA_DIR at a writable directory "
            "(the default registry is file://<data_dir>/schemas)"
        )

    def _write(self, sid: int, schema: dict[str, Any]) -> None:
        assert self.directory is not None
        path = self.directory / f"{sid}.avsc"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if path.exists():
                return
            # write-then-rename: several workers may register the same schema at once
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(schema, fh, indent=2, sort_keys=True)
            os.replace(tmp, path)
        except OSError as exc:
            raise self._not_writable(exc.strerror or str(exc)) from None

    def lookup(self, sid: int) -> dict[str, Any]:
        schema = self._by_id.get(sid)
        if schema is None and self.directory is not None:
            path = self.directory / f"{sid}.avsc"
            if path.exists():
                schema = json.loads(path.read_text())
                self._by_id[sid] = schema
        if schema is None:
            where = self.directory or "memory"
            raise UnknownSchemaError(f"schema id {sid} is not in the registry ({where})")
        return schema

    def parsed(self, sid: int) -> Any:
        p = self._parsed.get(sid)
        if p is None:
            p = fastavro.parse_schema(self.lookup(sid))
            self._parsed[sid] = p
        return p
