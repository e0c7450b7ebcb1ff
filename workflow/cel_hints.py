"""What to write instead, when a CEL expression is written the Python way.

Spec authors often know Python: ``a and b``, ``not x``, ``1_000_000``, ``x is None``, ``True``, or Excel and
SQL: ``a = b``. CEL's parser only says "mismatched input"; these hints name the CEL spelling. Text inside
string literals is ignored."""

from __future__ import annotations

import re

_STRING = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_HABITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\band\b"), "CEL writes 'and' as '&&'"),
    (re.compile(r"\bor\b"), "CEL writes 'or' as '||'"),
    (re.compile(r"\bnot\b(?!\s+in\b)"), "CEL writes 'not x' as '!x' (and 'not (a > b)' as '!(a > b)')"),
    (re.compile(r"\bnot\s+in\b"), "CEL writes 'x not in xs' as '!(x in xs)'"),
    (re.compile(r"\d_\d"), "CEL numbers have no '_' separators: write 1000000, not 1_000_000"),
    (re.compile(r"\bis\s+not\s+None\b|\bis\s+None\b"), "CEL compares with null: 'x != null', 'x == null'"),
    (re.compile(r"\bNone\b"), "CEL writes None as 'null'"),
    (re.compile(r"\bTrue\b|\bFalse\b"), "CEL writes True and False in lower case: 'true', 'false'"),
    # a lone '=' (not part of == != <= >=), the comparison of Excel, SQL and the pharmacy's own forms
    (re.compile(r"(?<![=!<>])=(?!=)"), "CEL writes the comparison '=' as '=='"),
)


def python_habits(source: str) -> list[str]:
    """One hint per Python habit found outside string literals, in a fixed order; empty if none."""
    code = _STRING.sub("''", source)
    return [hint for pattern, hint in _HABITS if pattern.search(code)]
