"""Enum fields: a string field with a closed set of allowed values, checked at ingest.

Three spellings declare one (docs/spec.md, "Enum fields"):

    employment: enum(employed, self-employed, unemployed, retired)     # add ? for optional: enum(a, b)?
    employment: [employed, self-employed, unemployed, retired]          # a YAML list
    input: {schema: applicant.avsc}   with  {"type": {"type": "enum", "symbols": [...]}}

The field is a string everywhere (CEL, Avro topics, outputs); what the enum adds is the admission check:
a value outside the symbols, `" unemployed"` with a stray space included, is a schema failure at ingest
that names the field and the allowed values, not a rule rejection further down the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dana_workflows.workflow.errors import ProblemCollector
from dana_workflows.workflow.ir import FieldIR

ENUM_SPELLING = re.compile(r"^\s*enum\s*\((?P<body>.*)\)\s*(?P<optional>\?)?\s*$", re.DOTALL)


class EnumDeclarationError(ValueError):
    """A declaration that is meant as an enum but cannot be one (empty, duplicates, not text)."""


def enum_symbols(declared: Any) -> tuple[tuple[str, ...], bool] | None:
    """(symbols, optional) for an enum declaration (``enum(a, b)``, ``enum(a, b)?`` or a YAML list);
    None when `declared` is not written as an enum; EnumDeclarationError when it is, but wrongly."""
    if isinstance(declared, list):
        return _checked([_as_symbol(v) for v in declared]), False
    if not isinstance(declared, str):
        return None
    match = ENUM_SPELLING.match(declared)
    if match is None:
        return None
    body = match["body"].strip()
    parts = [p.strip().strip("'\"") for p in body.split(",")] if body else []
    return _checked(parts), match["optional"] is not None


def avro_enum_symbols(avro_type: Any) -> tuple[tuple[str, ...], bool] | None:
    """(symbols, optional) for an Avro enum field type, alone or in a union with null; None otherwise."""
    optional = isinstance(avro_type, list) and "null" in avro_type
    candidates = [t for t in avro_type if t != "null"] if isinstance(avro_type, list) else [avro_type]
    if len(candidates) != 1 or not isinstance(candidates[0], dict) or candidates[0].get("type") != "enum":
        return None
    symbols = candidates[0].get("symbols")
    if not isinstance(symbols, list):
        raise EnumDeclarationError("an Avro enum needs a list of symbols")
    return _checked([_as_symbol(s) for s in symbols]), optional


def _as_symbol(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EnumDeclarationError(f"enum values are text, got {value!r}")
    return str(value)


def _checked(symbols: list[str]) -> tuple[str, ...]:
    if not symbols or any(not s for s in symbols):
        raise EnumDeclarationError("an enum needs at least one value, and no empty ones")
    seen: set[str] = set()
    for s in symbols:
        if s in seen:
            raise EnumDeclarationError(f"enum value {s!r} is listed twice")
        seen.add(s)
    return tuple(symbols)


def describe(symbols: tuple[str, ...]) -> str:
    """The allowed values as a message shows them: ``'employed', 'retired'``."""
    return ", ".join(repr(s) for s in symbols)


def enum_field(
    name: str, declared: Any, node: Any, key: Any, path: str, c: ProblemCollector, *, avro: bool = False
) -> list[FieldIR] | None:
    """The enum field (a list of one; empty with the problem reported), or None: not an enum."""
    try:
        found = avro_enum_symbols(declared) if avro else enum_symbols(declared)
    except EnumDeclarationError as exc:
        c.add(node, key, path, str(exc), "employment: enum(employed, unemployed, retired)")
        return []
    if found is None:
        return None
    if not name.isidentifier():
        c.add(node, key, path, "field names must be identifiers", "use letters, digits and _")
        return []
    symbols, optional = found
    return [FieldIR(name=name, type="string", optional=optional, symbols=symbols)]


_LITERAL = r"""'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)\""""
_COMPARED = re.compile(rf"\b(?P<field>[A-Za-z_]\w*)\s*(?:==|!=)\s*(?:{_LITERAL})")
_COMPARED_REVERSED = re.compile(rf"(?:{_LITERAL})\s*(?:==|!=)\s*(?P<field>[A-Za-z_]\w*)\b")
_IN_LIST = re.compile(r"\b(?P<field>[A-Za-z_]\w*)\s+in\s+\[(?P<items>[^\]]*)\]")


def unknown_enum_literals(expr: str, fields: Mapping[str, FieldIR]) -> list[tuple[str, str]]:
    """(field, literal) for each literal an expression compares an enum field with (==, !=, in [...]) that
    is none of the field's values: a typo that would make the rule always fail or always pass."""
    found: list[tuple[str, str]] = []

    def check(name: str, literal: str) -> None:
        field = fields.get(name)
        if field is not None and field.symbols and literal not in field.symbols:
            found.append((name, literal))

    for pattern in (_COMPARED, _COMPARED_REVERSED):
        for m in pattern.finditer(expr):
            check(m["field"], m["sq"] if m["sq"] is not None else m["dq"])
    for m in _IN_LIST.finditer(expr):
        for item in re.finditer(_LITERAL, m["items"]):
            check(m["field"], item["sq"] if item["sq"] is not None else item["dq"])
    return found
