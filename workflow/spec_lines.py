"""Where a parsed piece of a spec sits in its YAML, for problems found after parsing.

Rules that fail to parse are dropped from the IR, so a later check's index into ``step.rules`` is not the
rule's index in the file: look the rule up by its id in the step's YAML instead."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dana_workflows.workflow.errors import SpecProblem

RULE_LIST_KEYS = ("validate", "enforce")
# where fields are declared with a type: a refusal there makes every later read of the field fail too
DECLARING_SECTIONS = ("input.", "output.")


def rule_position(step_node: Any, step_name: str, rule_id: str, fallback: int) -> tuple[int, Any]:
    """The rule's index in the file and its YAML node (the node carries the line); the step's node and
    `fallback` when the YAML is not there to ask (a spec built in Python)."""
    body = step_node.get(step_name) if isinstance(step_node, CommentedMap) else None
    if isinstance(body, CommentedMap):
        for key in RULE_LIST_KEYS:
            rules = body.get(key)
            if not isinstance(rules, CommentedSeq):
                continue
            for index, entry in enumerate(rules):
                if isinstance(entry, CommentedMap) and str(entry.get("id")) == rule_id:
                    return index, entry
    return fallback, step_node


def refused_field(problems: list[SpecProblem], name: str) -> SpecProblem | None:
    """The problem that refused field `name`'s declaration (``input.amount: unknown type``), if any."""
    for problem in problems:
        if problem.field.rsplit(".", 1)[-1] == name and problem.field.startswith(DECLARING_SECTIONS):
            return problem
    return None


def follow_on(file: str, line: int, path: str, name: str, refused: SpecProblem) -> SpecProblem:
    """A read of a field whose declaration was refused: the reading site's line, else the declaration's."""
    where = f"line {refused.line}" if refused.line else refused.field
    return SpecProblem(
        file,
        line or refused.line,
        path,
        f"reads '{name}', whose declaration was refused ({where}: {refused.message})",
        f"fix {refused.field} first",
    )
