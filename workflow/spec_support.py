"""What every part of the spec parser shares: the problem collector, fields, rules, retry policies."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dana_workflows.workflow.cel_expr import ExpressionError, compile_expr
from dana_workflows.workflow.errors import SpecProblem
from dana_workflows.workflow.ir import AVRO_PRIMITIVES, FieldIR, RetryPolicyIR, RuleIR
from dana_workflows.workflow.spec_enum import enum_field
from dana_workflows.workflow.spec_fields import declared_field


class Collector:
    """Collects problems with line numbers looked up from ruamel's position info."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[SpecProblem] = []
        # fields a step refused by its own schema would have written: a later read of one is only an echo of
        # that step's error, not reported again (docs/spec.md#errors-you-may-see)
        self.dropped_fields: set[str] = set()
        # field -> (llm step path, fields its budget fallback sets) for fields that fallback leaves unset
        self.fallback_unset: dict[str, tuple[str, tuple[str, ...]]] = {}

    def add(self, node: Any, key: Any, path: str, message: str, fix: str = "") -> None:
        self.problems.append(SpecProblem(self.file, line_of(node, key), path, message, fix))

    def unknown_keys(self, node: Any, allowed: tuple[str, ...], prefix: str) -> bool:
        """Report every key of `node` outside `allowed` (with the closest allowed one); True if none."""
        clean = True
        for k in node:
            if k not in allowed:
                self.add(node, k, f"{prefix}{k}", "unknown key", suggest(str(k), allowed))
                clean = False
        return clean


def line_of(node: Any, key: Any = None) -> int:
    try:
        if key is not None and isinstance(node, CommentedMap) and key in node:
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            return int(node.lc.item(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def closest(word: str, options: Any) -> str | None:
    """The option a misspelt `word` most likely meant, or None when none is close."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return close[0] if close else None


def suggest(word: str, options: Any) -> str:
    meant = closest(word, options)
    return f"did you mean '{meant}'?" if meant else f"use one of: {', '.join(sorted(options))}"


def loc(path: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted path."""
    return ".".join(str(x) for x in path)


def parse_type(value: Any) -> tuple[str, bool] | None:
    if not isinstance(value, str):
        return None
    optional = value.endswith("?")
    base = value[:-1] if optional else value
    return (base, optional) if base in AVRO_PRIMITIVES else None


def parse_fields(node: Any, parent: Any, key: str, path: str, c: Collector) -> list[FieldIR]:
    if not isinstance(node, CommentedMap) or not node:
        c.add(parent, key, path, "a mapping of field names to types", f"{key}:\n  amount: double")
        return []
    out: list[FieldIR] = []
    split = _split_enums(node, path, c)
    for fname, ftype in node.items():
        if fname in split:
            continue
        if isinstance(ftype, CommentedMap):  # {type: long, min: 300, max: 850, sensitive: true}
            out.extend(declared_field(str(fname), ftype, f"{path}.{fname}", c))
            continue
        if (enum := enum_field(str(fname), ftype, node, fname, f"{path}.{fname}", c)) is not None:
            out.extend(enum)
            continue
        parsed = parse_type(ftype)
        if parsed is None:
            fix = f"use one of {', '.join(AVRO_PRIMITIVES)} (add '?' for optional, e.g. 'string?')"
            listed = ftype.strip() if isinstance(ftype, str) else ""
            if listed.startswith("[") and listed.endswith("]"):  # `channel: "[web, branch]"`: one string
                fix = f"an enum is a YAML list without quotes, {fname}: {listed}, or enum({listed[1:-1]})"
            c.add(node, fname, f"{path}.{fname}", f"unknown type {ftype!r}", fix)
            continue
        if not str(fname).isidentifier():
            c.add(
                node, fname, f"{path}.{fname}", "field names must be identifiers", "use letters, digits and _"
            )
            continue
        out.append(FieldIR(name=str(fname), type=parsed[0], optional=parsed[1]))  # type: ignore[arg-type]
    return out


def _split_enums(node: CommentedMap, path: str, c: Collector) -> set[Any]:
    """`output: {risk: enum(low, medium, high), note: string}`: in a { } mapping the commas split the enum
    into `risk: 'enum(low'`, `medium: null`, `high): null`. One problem for it, naming the fix; the keys it
    was split into (returned) are not reported again as fields of their own."""
    keys, taken = list(node), set()
    for i, key in enumerate(keys):
        value = node[key]
        if not (isinstance(value, str) and value.startswith("enum(") and ")" not in value) or key in taken:
            continue
        parts = [value[len("enum(") :]]
        for later in keys[i + 1 :]:
            if node[later] is not None:
                break
            taken.add(later)
            parts.append(str(later).rstrip(")"))
            if str(later).endswith(")"):
                break
        taken.add(key)
        symbols = ", ".join(p.strip() for p in parts)
        c.add(
            node,
            key,
            f"{path}.{key}",
            f"enum({symbols}) was split at its commas by the {{ }} mapping",
            f'quote it, {key}: "enum({symbols})", or write it as a list, {key}: [{symbols}]',
        )
    return taken


def parse_rule(
    node: Any, parent: Any, key: Any, path: str, c: Collector, expr_key: str = "rule"
) -> RuleIR | None:
    if not isinstance(node, CommentedMap):
        c.add(parent, key, path, "a rule is a mapping", '{id: positive_amount, rule: "amount > 0.0"}')
        return None
    ok = c.unknown_keys(node, ("id", expr_key, "message", "severity"), f"{path}.")
    rid, expr = node.get("id"), node.get(expr_key)
    if not isinstance(rid, str) or not rid:
        c.add(node, None, f"{path}.id", "every rule needs an id", "id: positive_amount")
        ok = False
    if not isinstance(expr, str) or not expr:
        c.add(
            node,
            None,
            f"{path}.{expr_key}",
            "every rule needs a CEL expression",
            f'{expr_key}: "amount > 0.0"',
        )
        ok = False
    else:
        ok &= check_expr(expr, node, expr_key, f"{path}.{expr_key}", c)
    severity = node.get("severity", "reject")
    if severity not in ("reject", "warn"):
        c.add(
            node, "severity", f"{path}.severity", f"unknown severity {severity!r}", "severity: reject or warn"
        )
        ok = False
    if not ok:
        return None
    return RuleIR(id=rid, expr=expr, message=str(node.get("message", "")), severity=severity)


def check_expr(expr: str, node: Any, key: Any, path: str, c: Collector) -> bool:
    try:
        compile_expr(expr)
    except ExpressionError as exc:
        c.add(node, key, path, str(exc), "see docs/spec.md#expressions for the CEL syntax")
        return False
    return True


def parse_retry(node: Any, parent: Any, path: str, c: Collector, default: RetryPolicyIR) -> RetryPolicyIR:
    if node is None:
        return default
    if isinstance(node, dict) and not c.unknown_keys(node, tuple(RetryPolicyIR.model_fields), f"{path}."):
        return default  # a misspelt key named with the closest one, as in every other mapping
    try:
        return RetryPolicyIR(**{**default.model_dump(), **dict(node)})
    except (ValidationError, TypeError) as exc:
        msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        c.add(
            parent,
            "retry",
            path,
            f"invalid retry policy: {msg}",
            "retry: {max_attempts: 3, backoff_ms: 100, on_exhausted: dlq}",
        )
        return default
