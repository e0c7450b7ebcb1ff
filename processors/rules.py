"""Compiled rules: evaluate, and record every evaluation as a RuleResult.

`check` builds a decided rule's RuleResult with its slots set directly, not through the dataclass __init__
(five an event on the claims example: -4.7k of 571k instructions an event, docs/performance.md, "Session 12:
shared processing"); tests/unit/processors/test_hot_constructors.py holds it to the plain constructor. Where
the CEL fast path answers, one generated function returns the values the rule read and its answer
(`CompiledExpr.native_bound`), in place of the `bindings`, `evaluate_bound` and fast-path calls ("Session 13:
shared processing"); tests/unit/workflow/test_cel_native.py holds the pair to the general path's.
Each result carries its rule's rendered record head for its verdict (``heads``, processors/rule_render.py),
so the executor writes the audit column without a record dict per rule ("Session 19").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.processors.base import RuleResult
from dana_workflows.processors.rule_render import record_head
from dana_workflows.workflow.cel_expr import CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.ir import RuleIR

# In a failed result's message: the rule could not be computed (a run's summary counts these)
ERROR_MARK = " (error: "
_new_result = RuleResult.__new__


@dataclass(slots=True)
class CompiledRule:
    id: str
    step: str
    severity: str
    message: str
    expr: CompiledExpr
    # each verdict's record head (rule_render.record_head), indexed by `passed`: (failed, passed), rendered
    # once here and handed on in each result check makes (RuleResult.head)
    heads: tuple[bytes | None, bytes | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.heads = (
            record_head(self.id, self.step, False, self.severity, self.message),
            record_head(self.id, self.step, True, self.severity, ""),
        )

    @classmethod
    def of(cls, rule: RuleIR, step: str) -> CompiledRule:
        return cls(
            rule.id, step, rule.severity, rule.message or f"rule {rule.id} failed", compile_expr(rule.expr)
        )

    def check(self, scope: Mapping[str, Any]) -> RuleResult:
        """A rule that cannot be evaluated on this event (missing value, wrong type) fails, with why."""
        expr = self.expr
        bound = expr.native_bound
        if bound is not None:
            try:  # the values and the answer in one call, where the fast path vouches for CEL's answer
                values, ok = bound(scope)
            except Exception:  # Defer, or anything unforeseen: bind, and the CEL library decides
                bound = None
        if bound is None:
            values = expr.bindings(scope)
            try:
                ok = expr.evaluate_bound(values, scope)
            except EvaluationError as exc:
                return RuleResult(
                    self.id, self.step, False, self.severity, f"{self.message}{ERROR_MARK}{exc})", values
                )
        if not isinstance(ok, bool):
            msg = f"{self.message}{ERROR_MARK}rule returned {type(ok).__name__}, not a bool)"
            return RuleResult(self.id, self.step, False, self.severity, msg, values)
        # the hot path (every rule, every event): the slots set directly, without the __init__ call
        result = _new_result(RuleResult)
        result.rule_id = self.id
        result.step = self.step
        result.passed = ok
        result.severity = self.severity
        result.message = "" if ok else self.message
        result.values = values
        result.head = self.heads[ok]
        return result


def first_try(expr: CompiledExpr) -> tuple[CompiledExpr, Callable[[Any], Any]]:
    """The expression and what to call first on a scope: its fast path (cel_native), which answers or
    raises where CEL must decide, else `evaluate` itself. The transform and route steps call it directly,
    and `evaluate` (the fast path again, then the CEL library) only where it raised: one Python call less
    an expression where it answers (docs/performance.md, "Session 16: the processors' own work")."""
    return expr, expr.native or expr.evaluate
