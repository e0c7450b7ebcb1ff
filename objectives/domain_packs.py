"""Domain packs: priors from field names, as YAML files, with `parent:child` inheritance.

A pack says what a field of a given name holds in its domain (`age`: 0-130; `currency`: ISO 4217).
`finance:lending` extends `finance`, which extends `core`, the pack every other one extends. Packs
ship inside the package (objectives/domains/); users add their own files with the same shape from a
directory of their own, and theirs win over a built-in pack of the same name.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dana_workflows.core.yaml_errors import yaml_error_at

BUILTIN_DIR = Path(__file__).parent / "domains"
ROOT_PACK = "core"


class PackError(ValueError):
    """An unknown pack name or a broken pack file; the message says which and what to do."""


class FieldPrior(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[str]
    types: list[str] = Field(default_factory=lambda: ["string", "int", "long", "double", "float", "boolean"])
    range: tuple[float | None, float | None] | None = None
    values: str | list[Any] | None = None  # a list, or the name of one of the pack's lists
    format: str | None = None
    why: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> FieldPrior:
        kinds = [k for k in ("range", "values", "format") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a field prior says exactly one of range, values, format (found {kinds or 'none'})"
            )
        return self

    def matches(self, name: str, type_: str) -> bool:
        low = name.lower()
        return type_ in self.types and any(fnmatch.fnmatchcase(low, p.lower()) for p in self.names)


class PackFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    parent: str | None = None
    fields: list[FieldPrior] = Field(default_factory=list)
    lists: dict[str, list[Any]] = Field(default_factory=dict)


@dataclass(slots=True)
class Prior:
    """One resolved prior: where it came from, and its values when it names a list."""

    pack: str
    spec: FieldPrior
    values: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class DomainPack:
    """A pack with its ancestors resolved: the child's priors first, so they win."""

    name: str
    chain: list[str]
    priors: list[Prior]

    def priors_for(self, name: str, type_: str) -> list[Prior]:
        return [p for p in self.priors if p.spec.matches(name, type_)]


def _read(path: Path) -> PackFile:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackError(f"{path}: cannot read this domain pack ({exc.strerror})") from None
    except YAMLError as exc:
        raise PackError(f"{yaml_error_at(path, exc)}; fix the YAML") from None
    try:
        return PackFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise PackError(f"{path}: {where}: {first['msg']} (see objectives/domains/core.yaml)") from None


def available(extra_dirs: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Pack name -> file; a user's directory overrides a built-in pack of the same name."""
    found: dict[str, Path] = {}
    for directory in (BUILTIN_DIR, *extra_dirs):
        if not directory.is_dir():
            raise PackError(f"{directory}: no such directory of domain packs")
        for path in sorted(directory.glob("*.yaml")):
            found[_read(path).name] = path
    return found


def load_pack(name: str, extra_dirs: tuple[Path, ...] = ()) -> DomainPack:
    """The pack `name` and its ancestors (`finance:lending` -> finance -> core)."""
    files = available(extra_dirs)
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"known packs: {', '.join(sorted(files))}"
        raise PackError(f"unknown domain '{name}': {hint}")
    chain: list[str] = []
    priors: list[Prior] = []
    current: str | None = name
    while current is not None:
        if current in chain:
            raise PackError(f"domain packs inherit in a circle: {' -> '.join([*chain, current])}")
        if current not in files:
            raise PackError(f"domain pack '{chain[-1]}' names a parent '{current}' that does not exist")
        pack = _read(files[current])
        chain.append(current)
        priors.extend(_resolve(pack, files[current]))
        current = _parent_of(pack)
    return DomainPack(name, chain, priors)


def pack_for(domain: str | None, extra_dirs: tuple[Path, ...] = ()) -> DomainPack:
    """The pack inference applies: `domain`, or without one the core pack (a user's core.yaml in
    `extra_dirs` overrides the built-in one). The one home of "no domain means core", for the CLI and
    for library callers passing no pack; the built-in core is read once per process (its files ship
    with the package), a user's directory on every call (the user may edit it between runs)."""
    name = domain or ROOT_PACK
    if not extra_dirs:
        # each caller its own copy (0.5 ms against 80 ms to read the files): a caller that edits its
        # pack's lists does not change the next caller's priors
        return copy.deepcopy(_builtin(name))
    return load_pack(name, extra_dirs)


@functools.lru_cache(maxsize=16)
def _builtin(name: str) -> DomainPack:
    return load_pack(name)


def _parent_of(pack: PackFile) -> str | None:
    if pack.parent is not None:
        return pack.parent
    if ":" in pack.name:
        return pack.name.rsplit(":", 1)[0]
    return None if pack.name == ROOT_PACK else ROOT_PACK


def _resolve(pack: PackFile, path: Path) -> list[Prior]:
    out = []
    for spec in pack.fields:
        values: list[Any] = []
        if isinstance(spec.values, str):
            if spec.values not in pack.lists:
                raise PackError(f"{path}: values '{spec.values}' names no list of this pack")
            values = list(pack.lists[spec.values])
        elif isinstance(spec.values, list):
            values = list(spec.values)
        out.append(Prior(pack.name, spec, values))
    return out
