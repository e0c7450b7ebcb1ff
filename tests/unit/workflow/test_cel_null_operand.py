"""An expression that fails on a field with no value names the field (workflow/cel_expr.py).

CEL refuses `null <= 5.0` with "No such overload ... mixing int with uint or double ...": a message about
types, when the cause is a field a step left empty (an llm step's answer after a budget fallback or a
review decision that set one field; NEWCOMER5, session 19, N5-2/N5-11). The rejection's reason must say
which field was null."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("native", ["1", "0"])
def test_a_null_operand_is_named(native: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_CEL_NATIVE", native)
    expr = compile_expr("credit_usd <= max_credit")
    with pytest.raises(EvaluationError) as failed:
        expr.evaluate({"credit_usd": 20.0, "max_credit": None})
    assert "max_credit is null here (a step left it empty; guard with max_credit != null)" in str(
        failed.value
    )
    with pytest.raises(EvaluationError) as both:
        expr.evaluate({"credit_usd": None, "max_credit": None})
    assert "credit_usd, max_credit are null here (a step left them empty" in str(both.value)


def test_a_failure_without_a_null_reads_as_before() -> None:
    expr = compile_expr("credit_usd <= max_credit")
    with pytest.raises(EvaluationError) as failed:
        expr.evaluate({"credit_usd": 20.0, "max_credit": "x"})
    assert "null here" not in str(failed.value) and "No such overload" in str(failed.value)
    assert expr.evaluate({"credit_usd": 20.0, "max_credit": 50.0}) is True
