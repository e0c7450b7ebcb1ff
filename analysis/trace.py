"""One event through a workflow's expressions with the real CEL library: what each site gave.

The solver reasons over an approximation (analysis.symbolic); before an example event is shown, it is
run here, so every example does what its finding says. Step semantics follow processors/: `set`
expressions read the incoming payload and are cast to the field's type, a route takes the first
condition that is true and rejects on an error, a rule that errors or gives a non-boolean fails, a
failing reject rule stops the event after its step. LLM answers are unknown here (null); a Python
function transform ends the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.ir import (
    EnforceStepIR,
    LLMStepIR,
    RouteStepIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)


@dataclass(frozen=True, slots=True)
class Failed:
    """An expression that raised on this event."""

    error: str


_CASTS: dict[str, Callable[[Any], Any]] = {"double": float, "float": float, "long": int, "int": int}


@dataclass(slots=True)
class Trace:
    values: dict[str, Any] = field(default_factory=dict)  # site key -> value, or Failed
    chosen: dict[str, str] = field(default_factory=dict)  # route path -> branch taken
    outcome: str = "out"  # out | rejected | dlq | branch <name> | unknown
    at: str = ""  # the site or step where the event left the main line
    payload: dict[str, Any] = field(default_factory=dict)

    def passed(self, key: str) -> bool:
        return self.values.get(key) is True


class _Stop(Exception):
    pass


def trace(ir: WorkflowIR, event: dict[str, Any]) -> Trace:
    t = Trace(payload=dict(event))
    try:
        _steps(ir.steps, t, "steps")
        constraints = EnforceStepIR(rules=ir.objective.constraints)
        _rules(constraints, t, "objective.constraints", constraint=True)
    except _Stop:
        pass
    return t


@lru_cache(maxsize=4096)
def compiled(expr: str) -> CompiledExpr:
    """Each expression compiled once: a sample of thousands of events runs the same few
    (objectives.declared), and compiling one costs ~0.2 ms, far more than running it."""
    return compile_expr(expr)


def evaluate(expr: str, payload: dict[str, Any]) -> Any:
    try:
        return compiled(expr).evaluate(payload)
    except EvaluationError as exc:
        return Failed(str(exc))


def _steps(steps: tuple[StepIR, ...], t: Trace, prefix: str) -> None:
    for i, step in enumerate(steps):
        path = f"{prefix}[{i}].{step.name}"
        if isinstance(step, TransformStepIR):
            _transform(step, t, path)
        elif isinstance(step, ValidateStepIR):
            _rules(step, t, path)
        elif isinstance(step, RouteStepIR):
            _route(step, t, path)
        elif isinstance(step, LLMStepIR):
            t.payload.update({f.name: None for f in step.output})


def _transform(step: TransformStepIR, t: Trace, path: str) -> None:
    source = t.payload
    out = dict(source)
    for d in step.derive:
        key = f"{path}.transform.set.{d.field}"
        value = evaluate(d.expr, source)
        if not isinstance(value, Failed):
            try:
                value = _CASTS.get(d.type, bool if d.type == "boolean" else str)(value)
            except (TypeError, ValueError, OverflowError) as exc:
                value = Failed(f"cannot store as {d.type}: {exc}")
        t.values[key] = value
        if isinstance(value, Failed):
            t.outcome, t.at = "dlq", key
            raise _Stop
        out[d.field] = value
    for old, new in step.rename.items():
        if old in out:
            out[new] = out.pop(old)
    if step.function is not None:
        t.outcome, t.at = "unknown", path
        raise _Stop
    for name in step.drop:
        out.pop(name, None)
    t.payload = out


def _rules(step: ValidateStepIR | EnforceStepIR, t: Trace, path: str, constraint: bool = False) -> None:
    rejected = ""
    for j, rule in enumerate(step.rules):
        key = f"{path}[{j}].rule" if constraint else f"{path}.validate[{j}].rule"
        value = evaluate(rule.expr, t.payload)
        t.values[key] = value
        if value is not True and rule.severity == "reject" and not rejected:
            rejected = key
    if rejected:
        t.outcome, t.at = "rejected", rejected
        raise _Stop


def _route(step: RouteStepIR, t: Trace, path: str) -> None:
    # every condition is recorded (the checks ask what a later one said); the first true one decides
    values = {b.name: evaluate(b.when, t.payload) for b in step.branches}
    for branch in step.branches:
        key = f"{path}.route.{branch.name}"
        value = t.values[key] = values[branch.name]
        if isinstance(value, Failed):
            t.outcome, t.at = "rejected", key
            raise _Stop
        if value is True:
            for later in step.branches:
                t.values.setdefault(f"{path}.route.{later.name}", values[later.name])
            t.chosen[path] = branch.name
            t.payload = {**t.payload, step.field: branch.name}
            _steps(branch.steps, t, f"{key}.steps")
            if branch.terminal:
                t.outcome, t.at = f"branch {branch.name}", key
                raise _Stop
            return
    t.outcome, t.at = "rejected", f"{path}.route"
    raise _Stop
