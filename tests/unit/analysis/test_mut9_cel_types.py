"""The fixes the static type check proposes (docs/spec.md: `dana-wf validate` type-checks every expression
and names the fix): a whole-number literal mixed with a double is rewritten as a decimal, and only that
literal: a field whose name holds the same digits is left as it is."""

from __future__ import annotations

import pytest

from dana_workflows.analysis.cel_types import DOUBLE, INT, STRING, infer
from dana_workflows.workflow.cel_parse import parse_subset

pytestmark = pytest.mark.unit

KINDS = {"amount2": DOUBLE, "amount": DOUBLE, "score12": DOUBLE, "n": INT, "name": STRING}


def fixes(expr: str) -> list[str]:
    tree = parse_subset(expr)
    assert tree is not None, expr
    return [p.fix for p in infer(tree, KINDS)[1]]


@pytest.mark.parametrize(
    ("expr", "fix"),
    [
        ("amount * 2 > 0.0", "write the whole number as a decimal: amount * 2.0"),
        ("2 * amount > 0.0", "write the whole number as a decimal: 2.0 * amount"),
        ("amount2 * 2 > 0.0", "write the whole number as a decimal: amount2 * 2.0"),
        ("score12 - 12 < 1.0", "write the whole number as a decimal: score12 - 12.0"),
    ],
)
def test_a_whole_number_literal_becomes_a_decimal_and_nothing_else_changes(expr: str, fix: str) -> None:
    assert fixes(expr) == [fix]


def test_other_mixes_get_their_own_fix() -> None:
    assert fixes("amount * n > 0.0") == ["convert explicitly: double(n) * amount"]
    assert fixes("name + 1 == 'a'") == ["convert the number to text: string(x) + '...'"]
