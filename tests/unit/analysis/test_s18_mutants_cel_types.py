"""Mutation pass over session 18's lines of analysis/cel_types.py: a test for the mutant that survived.

The fix "write the number without quotes" is for a number typed in quotes and compared with a number
(`qty == '2'`). A boolean compared with text that reads as a number (`flag == '1'`) has no number to unquote:
`flag == 1` would be refused the same way, so its fix is the general one.
"""

from __future__ import annotations

import pytest

from dana_workflows.analysis.cel_types import BOOL, DOUBLE, INT, STRING, infer
from dana_workflows.workflow.cel_parse import parse_subset

pytestmark = pytest.mark.unit

KINDS = {"qty": INT, "amount": DOUBLE, "name": STRING, "flag": BOOL}
GENERAL = "compare values of one type (numbers with numbers, text with text)"


def fixes(expr: str) -> list[str]:
    tree = parse_subset(expr)
    assert tree is not None, expr
    return [p.fix for p in infer(tree, KINDS)[1]]


@pytest.mark.parametrize("expr", ["flag == '1'", "flag != '2.5'", "'0' == flag"])
def test_a_boolean_against_text_that_reads_as_a_number_gets_the_general_fix(expr: str) -> None:
    assert fixes(expr) == [GENERAL]


def test_a_number_against_a_text_field_gets_the_general_fix() -> None:
    """No quoted literal to unquote: the text is a field's value."""
    assert fixes("qty == name") == [GENERAL]
