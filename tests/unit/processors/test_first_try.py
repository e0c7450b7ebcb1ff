"""The transform and route steps call an expression's fast path themselves (rules.first_try) and
`CompiledExpr.evaluate` only where it raised (docs/performance.md, "Session 16: the processors' own work").

What they decide stays what `evaluate` decides: the fast path's answer where it vouches for CEL's, the CEL
library's where it defers (an int compared with a double literal, which the fast path leaves to CEL), and
CEL's error where CEL has no answer. With the fast path off (DWF_CEL_NATIVE=0) they call `evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dana_workflows.processors.base import EMIT, REJECT, ROUTE
from dana_workflows.processors.route import RouteProcessor
from dana_workflows.processors.rules import first_try
from dana_workflows.processors.transform import TransformProcessor
from dana_workflows.workflow.cel_expr import NATIVE_ENV, CompiledExpr, EvaluationError, compile_expr
from dana_workflows.workflow.ir import BranchIR, DeriveIR, RouteStepIR, TransformStepIR
from tests.unit.processors.test_processors import ctx, env

pytestmark = pytest.mark.unit


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The sources `CompiledExpr.evaluate` was called on (patched before the steps are built)."""
    calls: list[str] = []
    plain = CompiledExpr.evaluate

    def counted(self: CompiledExpr, scope: Any) -> Any:
        calls.append(self.source)
        return plain(self, scope)

    monkeypatch.setattr(CompiledExpr, "evaluate", counted)
    yield calls


def _transform() -> TransformProcessor:
    derive = (
        DeriveIR(field="currency", expr="upper(trim(currency))", type="string"),
        DeriveIR(field="doubled", expr="amount * 2.0", type="double"),
    )
    return TransformProcessor(TransformStepIR(name="normalize", derive=derive, rename={"note": "remark"}))


def _route() -> RouteProcessor:
    branches = (BranchIR(name="fast", when="amount < 10.0"), BranchIR(name="slow", when="true"))
    return RouteProcessor(RouteStepIR(name="triage", branches=branches))


async def test_where_the_fast_path_answers_evaluate_is_not_called(evaluated: list[str]) -> None:
    out = await _transform().process(env(currency=" eur ", amount=3.0, note="n"), ctx())
    assert out.kind is EMIT
    assert out.envelope.payload == {"currency": "EUR", "amount": 3.0, "doubled": 6.0, "remark": "n"}
    routed = await _route().process(env(amount=3.0), ctx())
    assert routed.kind is ROUTE and routed.branch == "fast" and routed.envelope.payload["route"] == "fast"
    slow = await _route().process(env(amount=30.0), ctx())
    assert slow.kind is ROUTE and slow.branch == "slow"
    assert evaluated == []


async def test_where_the_fast_path_defers_evaluate_decides(evaluated: list[str]) -> None:
    # an int against a double literal: the fast path defers, CEL compares them (5 < 10.0 holds)
    routed = await _route().process(env(amount=5), ctx())
    assert routed.kind is ROUTE and routed.branch == "fast"
    assert evaluated == ["amount < 10.0"]
    evaluated.clear()
    # an int times a double: the fast path defers, CEL has no such overload: the step fails as before
    with pytest.raises(EvaluationError, match="No such overload"):
        await _transform().process(env(currency="usd", amount=5), ctx())
    assert evaluated == ["amount * 2.0"]


async def test_a_condition_cel_cannot_evaluate_rejects_with_its_error(evaluated: list[str]) -> None:
    out = await _route().process(env(amount="x"), ctx())
    assert out.kind is REJECT
    assert [r.rule_id for r in out.rule_results] == ["triage.fast"]
    assert out.reasons[0].startswith("triage.fast: cannot evaluate condition:")
    assert "No such overload" in out.reasons[0]
    assert evaluated == ["amount < 10.0"]


async def test_without_the_fast_path_evaluate_is_called(
    evaluated: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NATIVE_ENV, "0")
    out = await _transform().process(env(currency=" gbp ", amount=2.0, note="n"), ctx())
    assert out.envelope.payload == {"currency": "GBP", "amount": 2.0, "doubled": 4.0, "remark": "n"}
    routed = await _route().process(env(amount=30.0), ctx())
    assert routed.branch == "slow"
    assert evaluated == ["upper(trim(currency))", "amount * 2.0", "amount < 10.0", "true"]


def test_first_try_is_the_fast_path_where_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    expr = compile_expr("amount > 0.0")
    assert first_try(expr) == (expr, expr.native)
    monkeypatch.setenv(NATIVE_ENV, "0")
    plain = compile_expr("amount > 0.0")
    assert plain.native is None
    assert first_try(plain) == (plain, plain.evaluate)
