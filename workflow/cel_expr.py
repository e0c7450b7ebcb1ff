"""CEL expressions compiled once: the language for rules, conditions and derived fields.

A compiled expression binds only the variables it reads, so per-event cost stays at a few
microseconds however wide the payload is. Simple expressions also get a generated Python function
(dana_workflows.workflow.cel_native) that answers where CEL's answer is certain and defers to CEL elsewhere;
DWF_CEL_NATIVE=0 turns it off (to compare, or to rule it out).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from dana_workflows.workflow.cel_hints import python_habits
from dana_workflows.workflow.cel_native import Native, compile_native

NATIVE_ENV = "DWF_CEL_NATIVE"

# Extra functions beyond the CEL standard library that spec authors ask for most.
EXTRA_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": lambda s: None if s is None else str(s).upper(),
    "lower": lambda s: None if s is None else str(s).lower(),
    "trim": lambda s: None if s is None else str(s).strip(),
    "round2": lambda x: round(float(x), 2),
}


class ExpressionError(ValueError):
    """An expression that does not compile; the message says where and why."""


# CEL's comprehension macros bind their own variable (`xs.all(x, x > 0)`); cel-python lists it among
# the program's variables, but it is not something the expression reads from the event.
_MACRO_BINDING = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


def macro_bound_names(source: str) -> frozenset[str]:
    """The names comprehension macros bind in `source` (`t` in `tags.exists(t, t == 'x')`)."""
    return frozenset(_MACRO_BINDING.findall(source))


class EvaluationError(RuntimeError):
    """An expression that failed on one event (missing field, wrong types, division by zero)."""


@dataclass(slots=True)
class CompiledExpr:
    source: str
    program: Any
    variables: tuple[str, ...]
    uses_functions: bool
    native: Native | None = None
    # the fast path returning (values bound, result) in one call (cel_native.compile_native, bound=True)
    native_bound: Native | None = None

    @property
    def fields_read(self) -> tuple[str, ...]:
        """The variables the expression reads from its scope: every variable but a macro's own."""
        bound = macro_bound_names(self.source)
        return tuple(v for v in self.variables if v not in bound) if bound else self.variables

    def bindings(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        """The values this expression reads (recorded in rule results)."""
        variables = self.variables
        if len(variables) == 1:  # most rules read one field: ~3x cheaper than the comprehension
            v = variables[0]
            return {v: scope[v]} if v in scope else {}
        values = {}  # a loop, not a comprehension (a function call on 3.11): -2.7k instructions an event
        for v in variables:
            if v in scope:
                values[v] = scope[v]
        return values

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        if self.native is not None:
            try:
                return self.native(scope)
            except Exception:  # Defer, or anything unforeseen: CEL decides
                pass
        return self._evaluate_cel(self.bindings(scope), scope)

    def evaluate_bound(self, values: dict[str, Any], scope: Mapping[str, Any]) -> Any:
        """Evaluate on values already bound (callers that also record them bind once)."""
        if self.native is not None:
            try:
                return self.native(values)
            except Exception:  # Defer, or anything unforeseen: CEL decides
                pass
        return self._evaluate_cel(values, scope)

    def _evaluate_cel(self, values: dict[str, Any], scope: Mapping[str, Any]) -> Any:
        try:
            if self.uses_functions:
                return self.program.execute(cel.Context(variables=values, functions=EXTRA_FUNCTIONS))
            return self.program.execute(values)
        except Exception as exc:  # the cel binding raises RuntimeError/ValueError/ZeroDivisionError
            missing = [v for v in self.variables if v not in scope]
            hint = f" (missing: {', '.join(missing)})" if missing else ""
            # CEL's "No such overload" for `null <= 5.0` names types, not the field that had no value
            nulls = [v for v in self.variables if v in scope and scope[v] is None]
            lead = (
                f"{', '.join(nulls)} {'is' if len(nulls) == 1 else 'are'} null here (a step left "
                f"{'it' if len(nulls) == 1 else 'them'} empty; guard with {nulls[0]} != null): "
                if nulls
                else ""
            )
            raise EvaluationError(f"{self.source!r}: {lead}{exc}{hint}") from exc


def compile_expr(source: str) -> CompiledExpr:
    try:
        program = cel.compile(source)
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        hints = python_habits(source)
        if hints:  # the parser's "mismatched input" does not say what to write instead
            first = "; ".join(hints) + f" (parser: {first})"
        raise ExpressionError(f"not a valid CEL expression: {first}") from exc
    functions = set(program.functions())
    if "not" in functions:  # `not (a > b)` parses as a call of an unknown function named not
        raise ExpressionError(f"not a valid CEL expression: {'; '.join(python_habits(source))}")
    variables = tuple(program.variables())
    return CompiledExpr(
        source=source,
        program=program,
        variables=variables,
        uses_functions=bool(functions & EXTRA_FUNCTIONS.keys()),
        native=compile_native(source, variables) if native_enabled() else None,
        native_bound=compile_native(source, variables, bound=True) if native_enabled() else None,
    )


def native_enabled() -> bool:
    """Whether compile_expr attaches the Python fast path (on unless DWF_CEL_NATIVE=0)."""
    return os.environ.get(NATIVE_ENV, "") not in ("0", "false", "no")
