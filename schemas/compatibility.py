"""Avro schema compatibility as a schema registry judges it, with the field that breaks named.

A registry answers "compatible or not"; an operator needs to know *which field* breaks and *why*. This
module applies Avro's schema resolution rules (the reader's fields must be found in the writer's data or
have a default; types must match or be promotable) and words each problem for the direction that fails:

- BACKWARD: the new schema reads records written with the registered one (consumers upgrade first);
- FORWARD: the registered schema reads records written with the new one (producers upgrade first);
- FULL: both. ``*_TRANSITIVE`` checks against every registered version, the others against the latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

# writer type -> reader types that can read it (Avro's promotions)
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED = ("record", "enum", "fixed")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One reason a reader cannot read a writer's data: where (a dotted field path) and what."""

    path: str
    kind: str  # "missing": reader field absent from the writer, no default; "type"; "symbol"; "size"
    reader: str
    writer: str


def read_mismatches(reader: Any, writer: Any) -> list[Mismatch]:
    """Why data written with `writer` cannot be read with `reader` (empty: it can)."""
    out: list[Mismatch] = []
    _check(_Named(reader), reader, _Named(writer), writer, "", out)
    return out


def compatibility_problems(new: Any, registered: Sequence[Any], level: str) -> list[str]:
    """What breaks when `new` is added after `registered` (oldest first) under `level`, one line each."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}: use one of {', '.join(LEVELS)}")
    if level == "NONE" or not registered:
        return []
    versions = list(enumerate(registered, 1))
    if not level.endswith("_TRANSITIVE"):
        versions = versions[-1:]
    problems: list[str] = []
    for number, old in versions:
        if level.startswith(("BACKWARD", "FULL")):
            problems += [_backward(m, number) for m in read_mismatches(new, old)]
        if level.startswith(("FORWARD", "FULL")):
            problems += [_forward(m, number) for m in read_mismatches(old, new)]
    return problems


def _backward(m: Mismatch, version: int) -> str:
    """The new schema (reader) cannot read records written with registered version `version`."""
    where = f"field {m.path or '(top level)'}"
    if m.kind == "missing":
        return f"{where}: added without a default, so records written with version {version} cannot be read"
    return f"{where}: {_changed(m)}, so records written with version {version} cannot be read"


def _forward(m: Mismatch, version: int) -> str:
    """Readers on registered version `version` cannot read records written with the new schema."""
    where = f"field {m.path or '(top level)'}"
    if m.kind == "missing":
        return f"{where}: removed, but has no default in version {version}, so its readers break"
    return f"{where}: {_changed(m)}, so readers on version {version} cannot read the new records"


def _changed(m: Mismatch) -> str:
    if m.kind == "symbol":
        return f"enum symbol(s) {m.writer} unknown to the reader, which has no default symbol"
    if m.kind == "size":
        return f"fixed size changed ({m.writer} -> {m.reader})"
    return f"type changed ({m.writer} read as {m.reader})"


class _Named:
    """Named types (records, enums, fixed) of one schema by full and short name: references resolve."""

    def __init__(self, schema: Any) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._collect(schema, "")

    def _collect(self, schema: Any, namespace: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
            return
        if not isinstance(schema, dict):
            return
        kind = schema.get("type")
        if kind in _NAMED:
            name = str(schema["name"])
            ns = str(schema.get("namespace", namespace)) if "." not in name else name.rpartition(".")[0]
            full = name if "." in name else f"{ns}.{name}" if ns else name
            self.types[full] = self.types[name.rpartition(".")[2]] = schema
            namespace = ns
        for field in schema.get("fields", ()) if kind == "record" else ():
            self._collect(field["type"], namespace)
        for key in ("items", "values"):
            if key in schema:
                self._collect(schema[key], namespace)
        if isinstance(kind, dict | list):
            self._collect(kind, namespace)

    def resolve(self, schema: Any) -> Any:
        """A name reference replaced by its definition; {"type": X} wrappers of non-named X unwrapped."""
        while True:
            if isinstance(schema, str) and schema in self.types:
                schema = self.types[schema]
            elif isinstance(schema, dict) and schema.get("type") not in (*_NAMED, "array", "map"):
                schema = schema["type"]
            else:
                return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def _describe(schema: Any) -> str:
    kind = _kind(schema)
    if kind in _NAMED:
        return f"{kind} {schema['name']}"
    if kind == "union":
        return "union[" + ",".join(_kind(b) if _kind(b) not in _NAMED else b["name"] for b in schema) + "]"
    if kind == "array":
        return f"array<{_kind(schema['items'])}>"
    if kind == "map":
        return f"map<{_kind(schema['values'])}>"
    return kind


def _short(name: Any) -> str:
    return str(name).rpartition(".")[2]


def _check(rn: _Named, reader: Any, wn: _Named, writer: Any, path: str, out: list[Mismatch]) -> None:
    reader, writer = rn.resolve(reader), wn.resolve(writer)
    rk, wk = _kind(reader), _kind(writer)
    if wk == "union":  # every branch the writer may have written must be readable
        for branch in writer:
            _check(rn, reader, wn, branch, path, out)
        return
    if rk == "union":  # the writer's type must match one of the reader's branches
        for branch in reader:
            trial: list[Mismatch] = []
            _check(rn, branch, wn, writer, path, trial)
            if not trial:
                return
        out.append(Mismatch(path, "type", _describe(reader), _describe(writer)))
        return
    if rk != wk:
        if rk not in _PROMOTIONS.get(wk, ()):
            out.append(Mismatch(path, "type", _describe(reader), _describe(writer)))
        return
    if rk in _NAMED and _short(reader["name"]) != _short(writer["name"]):
        aliases = {_short(a) for a in reader.get("aliases", ())}
        if _short(writer["name"]) not in aliases:
            out.append(Mismatch(path, "type", _describe(reader), _describe(writer)))
            return
    if rk == "record":
        _check_record(rn, reader, wn, writer, path, out)
    elif rk == "enum":
        unknown = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if unknown and "default" not in reader:
            out.append(Mismatch(path, "symbol", _describe(reader), ", ".join(unknown)))
    elif rk == "fixed" and reader["size"] != writer["size"]:
        out.append(Mismatch(path, "size", str(reader["size"]), str(writer["size"])))
    elif rk == "array":
        _check(rn, reader["items"], wn, writer["items"], f"{path}[]", out)
    elif rk == "map":
        _check(rn, reader["values"], wn, writer["values"], f"{path}{{}}", out)


def _check_record(
    rn: _Named, reader: dict[str, Any], wn: _Named, writer: dict[str, Any], path: str, out: list[Mismatch]
) -> None:
    written = {f["name"]: f for f in writer["fields"]}
    for field in reader["fields"]:
        where = f"{path}.{field['name']}" if path else field["name"]
        names = [field["name"], *field.get("aliases", ())]
        source = next((written[n] for n in names if n in written), None)
        if source is None:
            if "default" not in field:
                out.append(Mismatch(where, "missing", _describe(rn.resolve(field["type"])), "absent"))
            continue
        _check(rn, field["type"], wn, source["type"], where, out)
