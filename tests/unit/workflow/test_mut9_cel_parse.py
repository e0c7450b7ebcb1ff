"""The CEL subset parser (workflow/cel_parse.py): the trees its docstring specifies, CEL's precedence and
associativity, and None for everything outside the subset (the expression then runs on the library)."""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.workflow.cel_parse import parse_subset, variables_of

pytestmark = pytest.mark.unit

A, B, C, D, E = (("var", n) for n in "abcde")


def lit(v: Any) -> tuple[str, Any]:
    return ("lit", v)


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("1", lit(1)),
        ("1.5", lit(1.5)),
        ("1e3", lit(1000.0)),
        ("2.5E-1", lit(0.25)),
        ("'a b'", lit("a b")),
        ('"b"', lit("b")),
        ("true", lit(True)),
        ("false", lit(False)),
        ("null", lit(None)),
        ("9223372036854775807", lit(2**63 - 1)),
        ("-3", lit(-3)),
        ("-1.5", lit(-1.5)),
        ("- -3", lit(3)),
        ("-a", ("neg", A)),
        ("!a", ("not", A)),
        ("!!a", ("not", ("not", A))),
        ("a  ", A),
    ],
)
def test_atoms_and_unary(source: str, tree: Any) -> None:
    assert parse_subset(source) == tree


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("a + b * c", ("op", "+", A, ("op", "*", B, C))),
        ("a * b + c", ("op", "+", ("op", "*", A, B), C)),
        ("a - b - c", ("op", "-", ("op", "-", A, B), C)),
        ("a / b / c", ("op", "/", ("op", "/", A, B), C)),
        ("(a + b) * c", ("op", "*", ("op", "+", A, B), C)),
        ("a < b + 1", ("op", "<", A, ("op", "+", B, lit(1)))),
        ("a == b", ("op", "==", A, B)),
        ("a != b", ("op", "!=", A, B)),
        ("a <= b", ("op", "<=", A, B)),
        ("a >= b", ("op", ">=", A, B)),
        ("a > b", ("op", ">", A, B)),
        ("a || b && c", ("or", A, ("and", B, C))),
        ("a && b || c", ("or", ("and", A, B), C)),
        ("a && b && c", ("and", ("and", A, B), C)),
        ("a || b || c", ("or", ("or", A, B), C)),
        ("a ? b : c ? d : e", ("cond", A, B, ("cond", C, D, E))),
        ("a || b ? 1 : 2", ("cond", ("or", A, B), lit(1), lit(2))),
        ("!a == b", ("op", "==", ("not", A), B)),
        ("-a * b", ("op", "*", ("neg", A), B)),
    ],
)
def test_precedence_and_associativity(source: str, tree: Any) -> None:
    assert parse_subset(source) == tree


def test_in_a_list_of_literals() -> None:
    assert parse_subset("a in [1, 'x', null, -2, 2.5]") == ("in", A, (1, "x", None, -2, 2.5))
    assert parse_subset("a in []") == ("in", A, ())
    assert parse_subset("a + 1 in [2]") == ("in", ("op", "+", A, lit(1)), (2,))


def test_the_native_calls() -> None:
    assert parse_subset("size(upper(a))") == ("call", "size", ("call", "upper", A))
    assert parse_subset("lower(trim(a)) == 'x'") == (
        "op",
        "==",
        ("call", "lower", ("call", "trim", A)),
        lit("x"),
    )


@pytest.mark.parametrize(
    "source",
    [
        "",
        "a.b",
        "a % 2",
        "'a\\nb'",
        "1u",
        "b'x'",
        "a[0]",
        "xs.all(x, x > 0)",
        "max(a)",
        "upper(a",
        "upper a",
        "a b",
        "(a",
        "a ? b",
        "a in [b]",
        "a in [1 2]",
        "a in (1)",
        "9223372036854775808",
        "a +",
        "a $ b",
        ")",
    ],
)
def test_outside_the_subset_is_none(source: str) -> None:
    assert parse_subset(source) is None


def test_the_variables_a_tree_reads() -> None:
    tree = parse_subset("a + size(b) > 0 && c in [1] ? !d : -e")
    assert tree is not None
    assert variables_of(tree) == {"a", "b", "c", "d", "e"}
    assert variables_of(lit(1)) == set()
