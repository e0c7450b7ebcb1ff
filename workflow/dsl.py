"""Compose a workflow in Python with `|`; it compiles through the same checks as the YAML spec.

wf = (
    Workflow("claims", input={"amount": "double", "currency": "string"})
    | validate("check", rule("positive", "amount > 0.0", "amount must be positive"))
    | route("triage", auto_pay="amount < 1000.0", review="true")
)
ir = wf.build()
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from dana_workflows.workflow.ir import WorkflowIR
from dana_workflows.workflow.spec import parse_spec


def rule(id: str, expr: str, message: str = "", severity: str = "reject") -> dict[str, Any]:
    return {"id": id, "rule": expr, "message": message, "severity": severity}


@dataclass(frozen=True)
class Step:
    name: str
    body: dict[str, Any]

    def as_spec(self) -> dict[str, Any]:
        return {self.name: self.body}


def validate(name: str, *rules: dict[str, Any], **options: Any) -> Step:
    return Step(name, {"validate": list(rules), **options})


def transform(name: str, set: dict[str, Any] | None = None, **options: Any) -> Step:
    body: dict[str, Any] = {}
    if set:
        body["set"] = set
    for key in ("rename", "drop", "function", "outputs"):
        if key in options:
            body[key] = options.pop(key)
    return Step(name, {"transform": body, **options})


def route(
    name: str,
    branches: dict[str, Any] | None = None,
    *,
    as_field: str | None = None,
    retry: dict[str, Any] | None = None,
    recovery: dict[str, Any] | None = None,
    description: str | None = None,
    **conditions: Any,
) -> Step:
    """Branches by keyword (`auto_pay="amount < 1000.0"`) or, for names that clash, in `branches`."""
    body: dict[str, Any] = {"route": {**(branches or {}), **conditions}}
    options = (("as", as_field), ("retry", retry), ("recovery", recovery), ("description", description))
    for key, value in options:
        if value:
            body[key] = value
    return Step(name, body)


def branch(when: str, *steps: Step, terminal: bool = False) -> dict[str, Any]:
    return {"when": when, "steps": [s.as_spec() for s in steps], "terminal": terminal}


def llm(name: str, prompt: str, output: dict[str, str], **options: Any) -> Step:
    """`retry` and `recovery` (docs/recovery.md) go beside the llm mapping; every other option inside."""
    beside = {key: options.pop(key, None) for key in ("retry", "recovery")}
    beside = {key: value for key, value in beside.items() if value}
    return Step(name, {"llm": {"prompt": prompt, "output": output, **options}, **beside})


@dataclass(frozen=True)
class Workflow:
    name: str
    input: dict[str, str]
    version: int = 1
    description: str = ""
    objective: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    steps: tuple[Step, ...] = field(default=())

    def __or__(self, step: Step) -> Workflow:
        if not isinstance(step, Step):
            return NotImplemented
        return Workflow(
            self.name,
            self.input,
            self.version,
            self.description,
            self.objective,
            self.drift,
            (*self.steps, step),
        )

    def as_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"workflow": self.name, "version": self.version, "input": dict(self.input)}
        if self.description:
            spec["description"] = self.description
        if self.objective:
            spec["objective"] = self.objective
        if self.drift:
            spec["drift"] = self.drift
        spec["steps"] = [s.as_spec() for s in self.steps]
        return spec

    def to_yaml(self) -> str:
        buf = io.StringIO()
        YAML().dump(self.as_spec(), buf)
        return buf.getvalue()

    def build(self) -> WorkflowIR:
        """The IR, through the YAML spec's checks (so both paths report the same problems)."""
        return parse_spec(self.to_yaml(), file=f"<python:{self.name}>")
