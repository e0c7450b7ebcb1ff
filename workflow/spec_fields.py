"""A field declared as a mapping: its type with a range and whether it is sensitive.

    credit_score: {type: long, min: 300, max: 850}
    ssn: {type: string, sensitive: true}

Ingest rejects a value outside the range; `dana-wf validate` proves transforms keep their results in
range; the recorded input (docs/audit.md) keeps sensitive fields only encrypted.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from dana_workflows.workflow.errors import ProblemCollector
from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR
from dana_workflows.workflow.spec_enum import enum_field

FIELD_KEYS = ("type", "min", "max", "sensitive", "doc")
NUMERIC_TYPES = ("long", "int", "double", "float")


def declared_field(name: str, node: CommentedMap, path: str, c: ProblemCollector) -> list[FieldIR]:
    """The field (a list of one), or nothing with the problems reported."""
    ok = c.unknown_keys(node, FIELD_KEYS, f"{path}.")
    raw = node.get("type")
    enum = enum_field(name, raw, node, "type", f"{path}.type", c)
    if enum is not None:  # {type: "enum(a, b)", doc: ..., sensitive: ...}
        extra = {"doc": str(node.get("doc", "")), "sensitive": node.get("sensitive", False) is True}
        return [f.model_copy(update=extra) for f in enum] if ok else []
    optional = isinstance(raw, str) and raw.endswith("?")
    base = raw[:-1] if optional else raw
    if base not in AVRO_PRIMITIVES:
        c.add(
            node, "type", f"{path}.type", f"unknown type {raw!r}", f"use one of {', '.join(AVRO_PRIMITIVES)}"
        )
        return []
    if not name.isidentifier():
        c.add(node, None, path, "field names must be identifiers", "use letters, digits and _")
        return []
    bounds = declared_range(node, str(base), path, c)
    sensitive = node.get("sensitive", False)
    if not isinstance(sensitive, bool):
        c.add(node, "sensitive", f"{path}.sensitive", "must be true or false", "sensitive: true")
        ok = False
    if bounds is None or not ok:
        return []
    return [
        FieldIR(
            name=name,
            type=base,
            optional=optional,
            doc=str(node.get("doc", "")),
            minimum=bounds[0],
            maximum=bounds[1],
            sensitive=sensitive,
        )
    ]


def declared_range(node: CommentedMap, base: str, path: str, c: ProblemCollector) -> tuple[Any, Any] | None:
    """(min, max) of a number's declaration (None where not given); None when the declaration is wrong."""
    low, high = node.get("min"), node.get("max")
    if low is None and high is None:
        return None, None
    if base not in NUMERIC_TYPES:
        c.add(
            node,
            "min" if "min" in node else "max",
            path,
            f"a range needs a number type, not {base}",
            "drop min/max, or use long or double",
        )
        return None
    for key, value in (("min", low), ("max", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            c.add(node, key, f"{path}.{key}", f"{key} must be a number, got {value!r}", f"{key}: 0")
            return None
    if low is not None and high is not None and low > high:
        c.add(node, "min", path, f"min {low} is above max {high}", "swap them")
        return None
    return (None if low is None else float(low)), (None if high is None else float(high))
