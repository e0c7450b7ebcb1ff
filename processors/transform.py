"""transform: derive, rename and drop fields with CEL, or call a registered Python function.

Where a step derives several fields and each is in the CEL fast path, one generated function computes them
all (`cel_native.compile_natives`: one call, the parts they share computed once); where it defers, each
field is evaluated alone as before (docs/performance.md, "Session 17: the hop").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from dana_workflows.processors.base import EMIT, Outcome, StepContext, decided
from dana_workflows.processors.rules import first_try
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.cel_expr import CompiledExpr, compile_expr
from dana_workflows.workflow.cel_native import Native, compile_natives
from dana_workflows.workflow.ir import TransformStepIR


def resolve_function(ref: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module_name, _, attr = ref.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"transform function {ref!r} cannot be imported: {exc}; "
            "make sure the module is on PYTHONPATH and the name is right"
        ) from exc
    if not callable(fn):
        raise ValueError(f"transform function {ref!r} is not callable")
    return fn  # type: ignore[no-any-return]


class TransformProcessor:
    kind = "transform"

    def __init__(self, step: TransformStepIR) -> None:
        self.name = step.name
        self.derive = [(d.field, *first_try(compile_expr(d.expr)), _caster(d.type)) for d in step.derive]
        self.together = _together(self.derive)  # the fields' values in one call, or None
        self.placed = tuple((name, cast, i) for i, (name, _, _, cast) in enumerate(self.derive))
        self.rename = tuple(step.rename.items())
        self.drop = tuple(step.drop)
        self.function = resolve_function(step.function) if step.function else None

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        src = env.payload
        out = dict(src)
        values = None
        if self.together is not None:
            try:  # every field's fast path in one call
                values = self.together(src)
            except Exception:  # one of them deferred (or failed): each field alone, below
                values = None
        if values is not None:
            for name, cast, i in self.placed:  # no zip: its call costs more than the fields' stores
                out[name] = cast(values[i])
        else:
            # every derived field reads the incoming payload, so the order of `set` entries never matters
            for name, expr, first, cast in self.derive:
                try:  # the fast path called here, not through expr.evaluate: one Python call less a field
                    value = first(src)
                except Exception:  # it deferred (or failed): evaluate decides, as it always does
                    value = expr.evaluate(src)
                out[name] = cast(value)
        for old, new in self.rename:
            if old in out:
                out[new] = out.pop(old)
        if self.function is not None:
            out.update(self.function(dict(out)))
        for name in self.drop:
            out.pop(name, None)
        env.payload = out
        return decided(EMIT, env, [], [])


def _together(derive: list[tuple[str, CompiledExpr, Any, Any]]) -> Native | None:
    """The derived fields' fast paths as one function, where there are several and each has one (not with
    the fast path off)."""
    exprs = [expr for _, expr, _, _ in derive]
    if len(exprs) < 2 or any(expr.native is None for expr in exprs):
        return None
    return compile_natives([(expr.source, expr.variables) for expr in exprs])


def _caster(avro_type: str) -> Callable[[Any], Any]:
    """CEL is strict about int vs double; Avro is strict about field types: cast at the edge."""
    if avro_type in ("double", "float"):
        return float
    if avro_type in ("long", "int"):
        return int
    if avro_type == "boolean":
        return bool
    return str
