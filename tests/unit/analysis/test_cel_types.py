"""The static type check refuses what the CEL library would refuse on every event, and nothing else."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.cel_types import BOOL, DOUBLE, INT, STRING, infer, render
from dana_workflows.workflow.cel_expr import EvaluationError, compile_expr
from dana_workflows.workflow.cel_parse import parse_subset

pytestmark = pytest.mark.unit

KINDS = {"credit_score": INT, "amount": DOUBLE, "name": STRING, "flag": BOOL}
SAMPLE = {"credit_score": 500, "amount": 12.5, "name": "Ann", "flag": True}


def problems(expr: str) -> list[str]:
    tree = parse_subset(expr)
    assert tree is not None, expr
    return [p.message for p in infer(tree, KINDS)[1]]


@pytest.mark.parametrize(
    "expr",
    [
        "300 <= credit_score <= 850",
        "amount * 2 > 0.0",
        "credit_score + 0.5 > 1.0",
        "size(credit_score) > 0",
        "flag && amount",
        "!amount",
        "-name == 'x'",
        "name < 3",
        "name + 1 == 'a'",
        "amount ? 1 : 2",
    ],
)
def test_refused_expressions_fail_in_the_cel_library_too(expr: str) -> None:
    assert problems(expr), expr
    with pytest.raises(EvaluationError):  # the library agrees: this fails on an ordinary event
        compile_expr(expr).evaluate(SAMPLE)


@pytest.mark.parametrize(
    "expr",
    [
        "300 <= credit_score && credit_score <= 850",
        "amount * 2.0 > 0.0",
        "amount > 0",  # comparisons mix int and double
        "credit_score == 500.0",
        "name == null",  # null compares with any kind (an optional field's test)
        "name + 'x' == 'Annx'",
        "flag == true && !flag || true",
        "name in ['Ann', 1]",
        "size(upper(trim(name))) > 2",
        "name < 'B'",
        "flag ? amount : 0.0",
    ],
)
def test_accepted_expressions_evaluate_in_the_cel_library(expr: str) -> None:
    assert problems(expr) == []
    compile_expr(expr).evaluate(SAMPLE)  # raises if the check let a type error through


def test_string_function_of_a_number_is_refused_though_it_would_run() -> None:
    # upper/lower/trim are Python functions that str() their argument: the library runs them on a
    # number, so this is the static check being stricter than the runtime, on purpose
    assert problems("upper(amount) == 'A'") == ["upper() needs a string, got double (amount)"]
    assert compile_expr("upper(amount) == 'A'").evaluate(SAMPLE) is False


def test_chained_comparison_gets_the_rewrite_as_fix() -> None:
    tree = parse_subset("300 <= credit_score <= 850")
    assert tree is not None
    (problem,) = infer(tree, KINDS)[1]
    assert problem.fix == "300 <= credit_score && credit_score <= 850"
    assert "bool and int" in problem.message


def test_whole_number_literal_fix_names_the_decimal() -> None:
    tree = parse_subset("amount * 2 > 0.0")
    assert tree is not None
    assert "amount * 2.0" in infer(tree, KINDS)[1][0].fix


def test_kinds_of_results() -> None:
    for expr, kind in [
        ("amount * 2.0", DOUBLE),
        ("size(name)", INT),
        ("upper(name)", STRING),
        ("flag", BOOL),
    ]:
        tree = parse_subset(expr)
        assert tree is not None
        assert infer(tree, KINDS)[0] == kind


@pytest.mark.parametrize(
    "expr", ["a <= b && !(c || d)", "x in [1, 'a', null, true]", "c ? -a : a * 2.5", "size(trim(s)) >= 3"]
)
def test_render_reads_back_to_the_same_tree(expr: str) -> None:
    tree = parse_subset(expr)
    assert tree is not None
    assert parse_subset(render(tree)) == tree
