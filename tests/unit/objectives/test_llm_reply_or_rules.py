"""A model's rule with CEL's `||` (or a `|` inside a string literal) is read whole: the reply's lines are
`id | CEL rule | reason` split at a lone `|` outside quotes. Splitting at every `|` offered `a > 0.0` for
`a > 0.0 || b > 0.0` (a rule the model did not write, stronger than its own), and salvage kept a line cut
inside such a rule as if it were whole: `x | a > 0.0 || b` has two `|` (REVIEW-N on 8c0563e)."""

from __future__ import annotations

import pytest

from dana_workflows.objectives.llm_proposals import parse_reply, salvage

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("line", "read"),
    [
        (
            "either | a > 0.0 || b > 0.0 | one of them is positive",
            ("a > 0.0 || b > 0.0", "one of them is positive"),
        ),
        ("either | a > 0.0 || b > 0.0", ("a > 0.0 || b > 0.0", "rule either")),
        ('code | code.matches("^(A|B)$") | A or B', ('code.matches("^(A|B)$")', "A or B")),
        ("code | c in ['|', '-'] | a separator", ("c in ['|', '-']", "a separator")),
        ("pos | amount > 0.0 | amounts are positive", ("amount > 0.0", "amounts are positive")),
        ('q | s == "x\\"|" | an escaped quote', ('s == "x\\"|"', "an escaped quote")),
    ],
)
def test_a_rule_with_an_or_or_a_quoted_bar_is_read_whole(line: str, read: tuple[str, str]) -> None:
    (cand,) = parse_reply(line)
    assert (cand.rule, cand.message) == read


@pytest.mark.parametrize(
    ("reply", "lines"),
    [
        ('{"rules": "a | x > 0.0 | pos\\nb | y > 1.0 || y < 0', "a | x > 0.0 | pos"),  # cut inside the rule
        (
            '{"rules": "a | x > 0.0 | pos\\nb | y > 1.0 || y < 0.0 | cut reas',
            "a | x > 0.0 | pos\nb | y > 1.0 || y < 0.0 | cut reas",
        ),
        ('{"rules": "a | x > 0.0 | pos\\nb | s == \\"|', "a | x > 0.0 | pos"),  # cut inside a string
    ],
)
def test_salvage_drops_a_line_cut_inside_an_or(reply: str, lines: str) -> None:
    assert salvage(reply) == lines
