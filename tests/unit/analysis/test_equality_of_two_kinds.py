"""`==` and `!=` between a number, a string and a boolean run in CEL (values of two types are simply
unequal), so `doses_per_day == '2'` is false on every event and `!=` true: a rule that means nothing. The
static check refuses it, stricter than the runtime on purpose, with the number unquoted as the fix when the
text is one (session 18 newcomer, N2)."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.cel_types import BOOL, DOUBLE, INT, STRING, infer
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.cel_parse import parse_subset

pytestmark = pytest.mark.unit

KINDS = {"qty": INT, "amount": DOUBLE, "name": STRING, "flag": BOOL}
SAMPLE = {"qty": 2, "amount": 0.5, "name": "2", "flag": True}


def found(expr: str) -> list[tuple[str, str]]:
    tree = parse_subset(expr)
    assert tree is not None, expr
    return [(p.message, p.fix) for p in infer(tree, KINDS)[1]]


@pytest.mark.parametrize(
    ("expr", "always"),
    [("qty == '2'", False), ("qty != '2'", True), ("name == 2", False), ("flag == 'true'", False)],
)
def test_the_library_answers_the_same_for_every_event(expr: str, always: bool) -> None:
    # the premise: the comparison runs and never depends on the event (here even where the text reads "2")
    assert compile_expr(expr).evaluate(SAMPLE) is always
    assert found(expr), expr


def test_a_number_in_quotes_gets_the_number_as_fix() -> None:
    assert found("qty == '2'") == [
        (
            "compares int with string in qty == '2', which is false on every event (values of two types are "
            "never equal)",
            "write the number without quotes: qty == 2",
        )
    ]
    assert found("'0.5' != amount") == [
        (
            "compares string with double in '0.5' != amount, which is true on every event (values of two "
            "types are never equal)",
            "write the number without quotes: 0.5 != amount",
        )
    ]


def test_text_that_is_no_number_gets_the_general_fix() -> None:
    [(message, fix)] = found("name != 1 || flag == 1")[:1]
    assert message.startswith("compares string with int in name != 1, which is true")
    assert fix == "compare values of one type (numbers with numbers, text with text)"
    assert len(found("name != 1 || flag == 1")) == 2


@pytest.mark.parametrize(
    "expr", ["qty == 2.0", "amount != 1", "name == 'x'", "flag != false", "name == null", "null != qty"]
)
def test_one_kind_numbers_and_null_are_accepted(expr: str) -> None:
    assert found(expr) == []
