"""One line for a YAML syntax error: ruamel's own text spans several lines (a caret picture per mark).

Every reader of a user's YAML file (specs, objectives lock files, domain packs) names the problem and
its line this way, so an error stays one line wherever it comes from.
"""

from __future__ import annotations

from ruamel.yaml.error import YAMLError


def yaml_error_line(exc: YAMLError) -> int | None:
    """The 1-based line ruamel points at, or None when it names no place."""
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


def yaml_error_problem(exc: YAMLError) -> str:
    """What is wrong, in one line: ruamel's problem, then what it was parsing."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{problem} {context}" if context else str(problem)
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def yaml_error_at(path: object, exc: YAMLError) -> str:
    """`path:line: not valid YAML (problem)`: how a file reader names a syntax error."""
    line = yaml_error_line(exc)
    where = f":{line}" if line is not None else ""
    return f"{path}{where}: not valid YAML ({yaml_error_problem(exc)})"
