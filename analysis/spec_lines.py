"""The line of each expression in a spec file, by the site keys of analysis.sites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from dana_workflows.workflow.spec_support import line_of


def spec_lines(source: str) -> dict[str, int]:
    """Site key -> 1-based line; empty when the source is not a readable YAML file (a DSL workflow)."""
    try:
        doc = YAML(typ="rt").load(Path(source).read_text(encoding="utf-8"))
    except (OSError, YAMLError, ValueError):
        return {}
    lines: dict[str, int] = {}
    if not isinstance(doc, CommentedMap):
        return lines
    objective = doc.get("objective")
    if isinstance(objective, CommentedMap) and isinstance(objective.get("constraints"), CommentedSeq):
        for i, rule in enumerate(objective["constraints"]):
            lines[f"objective.constraints[{i}].rule"] = line_of(rule, "rule")
    if isinstance(doc.get("steps"), CommentedSeq):
        _steps(doc["steps"], "steps", lines)
    for name in ("workflow", "input"):
        if name in doc:
            lines[name] = line_of(doc, name)
    if isinstance(doc.get("input"), CommentedMap):
        for field in doc["input"]:
            lines[f"input.{field}"] = line_of(doc["input"], field)
    return lines


def _steps(seq: CommentedSeq, prefix: str, lines: dict[str, int]) -> None:
    for i, item in enumerate(seq):
        if not isinstance(item, CommentedMap) or len(item) != 1:
            continue
        name, body = next(iter(item.items()))
        path = f"{prefix}[{i}].{name}"
        lines[path] = line_of(item, name)
        if not isinstance(body, CommentedMap):
            continue
        _transform(body.get("transform"), path, lines)
        _validate(body.get("validate"), path, lines)
        _route(body.get("route"), path, lines)
        llm = body.get("llm")
        if isinstance(llm, CommentedMap) and "when" in llm:
            lines[f"{path}.llm.when"] = line_of(llm, "when")


def _transform(node: Any, path: str, lines: dict[str, int]) -> None:
    if isinstance(node, CommentedMap) and isinstance(node.get("set"), CommentedMap):
        sets = node["set"]
        for field, spec in sets.items():
            on_expr = isinstance(spec, CommentedMap) and "expr" in spec
            lines[f"{path}.transform.set.{field}"] = (
                line_of(spec, "expr") if on_expr else line_of(sets, field)
            )


def _validate(node: Any, path: str, lines: dict[str, int]) -> None:
    if isinstance(node, CommentedSeq):
        for j, rule in enumerate(node):
            if isinstance(rule, CommentedMap):
                lines[f"{path}.validate[{j}].rule"] = line_of(rule, "rule")


def _route(node: Any, path: str, lines: dict[str, int]) -> None:
    if not isinstance(node, CommentedMap):
        return
    for branch, spec in node.items():
        key = f"{path}.route.{branch}"
        if isinstance(spec, CommentedMap):
            lines[key] = line_of(spec, "when")
            if isinstance(spec.get("steps"), CommentedSeq):
                _steps(spec["steps"], f"{key}.steps", lines)
        else:
            lines[key] = line_of(node, branch)
