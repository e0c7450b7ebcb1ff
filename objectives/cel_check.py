"""Is a proposed rule fit to offer? Parsed by the project's CEL, typed against the schema, total on it.

Three gates, in order, each with a reason a reviewer can read:

1. it compiles (workflow.cel_expr, the same compiler the runtimes use) and reads only declared fields;
2. where it lies in the subset `dana-wf validate` reads (analysis.cel_types.parse_analysed: the parsed
   subset of workflow.cel_parse and the conversions `int double string`), its tree is type-checked
   statically against the fields' declared types by analysis.cel_types (validate's one type checker):
   CEL does not coerce, so `amount + 1 > 0.5` on a double is refused here, not on every event later;
3. it is evaluated on witness values of every declared type (null too, for optional fields): it must
   return a bool, with no missing overload and no missing function. This reaches what the subset parser
   does not cover (`matches`, macros). Errors of conversions on odd strings (`timestamp('')`) are data,
   not types, and are left to the sample test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from dana_workflows.analysis.cel_types import BOOL, DYN, SPEC_KINDS, infer, parse_analysed
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, ExpressionError, compile_expr
from dana_workflows.workflow.ir import FieldIR
from dana_workflows.workflow.spec_support import closest

RESERVED = frozenset({"null", "true", "false"})
_DATA_DEPENDENT = (
    "Function 'timestamp' error",
    "Function 'duration' error",
    "Function 'int' error",
    "Function 'double' error",
)
_WITNESSES: dict[str, tuple[Any, ...]] = {
    "string": ("", "AB123456", "2024-02-29", "x@example.com"),
    "long": (0, 1, -7, 123456),
    "int": (0, 1, -7, 123456),
    "double": (0.0, 1.5, -2.5, 1.0e6),
    "float": (0.0, 1.5, -2.5, 1.0e6),
    "boolean": (True, False),
}
MAX_WITNESS_COMBINATIONS = 512


def check_rule(expr: str, fields: Mapping[str, FieldIR]) -> str:
    """Why `expr` cannot be offered as a rule over `fields`; "" when it can."""
    try:
        compiled = compile_expr(expr)
    except ExpressionError as exc:
        return str(exc)
    unknown = [v for v in compiled.fields_read if v not in fields and v not in RESERVED]
    if unknown:
        meant = [(v, m) for v in unknown if (m := closest(v, fields)) is not None]
        hint = f" (did you mean '{meant[0][1]}' for '{meant[0][0]}'?)" if meant else ""
        return f"reads {', '.join(repr(v) for v in unknown)}, not a field here{hint}"
    tree = parse_analysed(expr)
    if tree is not None:
        kind, problems = infer(tree, {name: SPEC_KINDS[f.type] for name, f in fields.items()})
        if problems:
            return f"does not type-check: {problems[0].message} (fix: {problems[0].fix})"
        if kind not in (BOOL, DYN):
            return f"gives {kind}, not true or false"
    return _witness_problem(compiled, fields)


def _witness_problem(compiled: CompiledExpr, fields: Mapping[str, FieldIR]) -> str:
    for scope in _witness_scopes(compiled.fields_read, fields):
        try:
            result = compiled.evaluate(scope)
        except EvaluationError as exc:
            text = str(exc)
            if any(marker in text for marker in _DATA_DEPENDENT):
                continue
            shown = ", ".join(f"{k}={v!r}" for k, v in scope.items())
            return f"fails on well-typed values ({shown}): {text.split(':', 1)[-1].strip()[:120]}"
        if not isinstance(result, bool):
            return f"returns {type(result).__name__}, not a bool"
    return ""


def _witness_scopes(variables: tuple[str, ...], fields: Mapping[str, FieldIR]) -> Iterator[dict[str, Any]]:
    names = [v for v in variables if v in fields]
    choices = [_WITNESSES[fields[v].type] + ((None,) if fields[v].optional else ()) for v in names]
    for combo in itertools.islice(itertools.product(*choices), MAX_WITNESS_COMBINATIONS):
        yield dict(zip(names, combo, strict=True))
