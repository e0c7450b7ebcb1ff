"""Every expression of a workflow checked against the declared types of the fields it reads.

Expressions of the parsed subset, conversions included, are checked statically (analysis.cel_types). The
others (member calls such as `s.contains('x')`, macros, `%`) are run once by the CEL library on a sample event
of the declared types; a "No such overload" or "Unsupported operation" there is a type error too. That
sample cannot follow both sides of `&&`, `||` or `?:`, so the note "not analysed" is kept for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from dana_workflows.analysis.cel_types import BOOL, DYN, NUMERIC, SPEC_KINDS, STRING, infer, parse_analysed
from dana_workflows.analysis.findings import Finding
from dana_workflows.analysis.sites import Site
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.payload_types import Fields

_SAMPLES: dict[str, Any] = {"string": "a", "long": 1, "int": 1, "double": 1.5, "float": 1.5, "boolean": True}
_TYPE_ERRORS = ("No such overload", "Unsupported operation")
_UNDEFINED = re.compile(r"Undefined variable or function: '([A-Za-z_][A-Za-z0-9_]*)'")
_BOOLEAN_ROLES = ("rule", "condition", "constraint", "when")


def type_findings(site: Site) -> Iterator[Finding]:
    tree = parse_analysed(site.expr)
    if tree is None:
        yield from _probe(site)
        return
    kinds = {name: SPEC_KINDS[f.type] for name, f in site.fields.items()}
    kind, problems = infer(tree, kinds)
    for p in problems:
        yield Finding("type-error", site.key, f"'{site.expr}': {p.message}", p.fix)
    if problems:
        return
    if site.role in _BOOLEAN_ROLES and kind not in (BOOL, DYN):
        yield Finding(
            "type-error",
            site.key,
            f"'{site.expr}' gives {kind}, not true or false, so it never holds",
            f"compare it: {site.expr} > 0" if kind in NUMERIC else "write a comparison",
        )
    elif site.role == "set" and site.target is not None:
        target = SPEC_KINDS[site.target.type]
        if kind not in (DYN, "null") and not _storable(kind, target):
            yield Finding(
                "type-error",
                site.key,
                f"'{site.expr}' gives {kind}, which cannot be stored in '{site.target.name}' "
                f"({site.target.type})",
                f"convert it, e.g. {'double' if target in NUMERIC else 'string'}(...), or change the type",
            )


def _storable(kind: str, target: str) -> bool:
    """What processors.transform's cast accepts: numbers into numbers, anything into text."""
    return kind == target or (kind in NUMERIC and target in NUMERIC) or target == STRING


def _probe(site: Site) -> Iterator[Finding]:
    sample = {name: _SAMPLES[f.type] for name, f in site.fields.items()}
    try:
        value = compile_expr(site.expr).evaluate(sample)
    except EvaluationError as exc:
        if any(marker in str(exc) for marker in _TYPE_ERRORS) or _missing_function(str(exc), sample):
            yield Finding(
                "type-error",
                site.key,
                f"fails on an event of the declared types: {exc}".split(". CEL does not")[0],
                "convert explicitly with int(x), double(x) or string(x), or compare values of one type",
            )
            return
    else:
        if site.role in _BOOLEAN_ROLES and not isinstance(value, bool):
            yield Finding(
                "type-error",
                site.key,
                f"'{site.expr}' gives {type(value).__name__}, not true or false",
                "write a comparison",
            )
            return
    yield Finding(
        "not-analysed",
        site.key,
        f"'{site.expr}' is outside the subset the analysis reads (member calls, macros, %): "
        "its types were tried on one sample event only, and the solver treats its value as unknown",
    )


def _missing_function(error: str, sample: dict[str, Any]) -> bool:
    """Every field is bound in the sample, so an undefined name is a function with no overload for
    these argument types (the CEL library says "Undefined variable or function" for both)."""
    match = _UNDEFINED.search(error)
    return match is not None and match.group(1) not in sample


def field_kinds(fields: Fields) -> dict[str, str]:
    return {name: SPEC_KINDS[f.type] for name, f in fields.items()}
