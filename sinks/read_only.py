"""The guard on user SQL against the embedded audit store: one reading statement, nothing else.

chdb runs every statement of a multi-statement text (a harmless `SELECT 1;` followed by a
statement that empties the table would run whole), and it has no per-query read-only mode that a
later insert in the same session could undo, so the text itself is checked: its first word names a
reading statement, and no `;` outside a quoted string, a quoted name or a comment starts a second
one. The server backend runs user SQL with `readonly=1` as well.
"""

from __future__ import annotations

READ_ONLY_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "EXISTS"})


class NotReadOnlyError(ValueError):
    """User SQL that could change the audit log; the message says what was refused and why."""


def check_read_only(sql: str) -> str:
    """The one statement of `sql`, without a trailing `;`; NotReadOnlyError for anything else."""
    statement = sql.strip().rstrip(";").rstrip()
    first = _first_word(statement)
    if first not in READ_ONLY_STATEMENTS:
        raise NotReadOnlyError(
            f"only reading statements ({', '.join(sorted(READ_ONLY_STATEMENTS))}) run against the audit "
            f"log; {first or 'an empty statement'} is refused: audit rows are never changed or deleted"
        )
    at = _unquoted_semicolon(statement)
    if at >= 0:
        raise NotReadOnlyError(
            f"one statement per query: a second one starts after the ';' at character {at + 1} "
            f"({statement[at : at + 30]!r}); run each statement on its own"
        )
    return statement


def _first_word(statement: str) -> str:
    text = statement
    while True:  # comments and opening parentheses may come before the statement
        text = text.lstrip().lstrip("(")
        if text.startswith("--"):
            text = text.partition("\n")[2]
        elif text.startswith("/*"):
            text = text.partition("*/")[2]
        else:
            break
    word = text.split(None, 1)[0] if text else ""
    return word.upper()


def _unquoted_semicolon(text: str) -> int:
    """The index of the first `;` outside quotes and comments, or -1."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            i = _end_of_quoted(text, i + 1, c)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == ";":
            return i
        else:
            i += 1
    return -1


def _end_of_quoted(text: str, i: int, quote: str) -> int:
    """The index after the closing quote; a backslash escapes, as does a doubled quote."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n
