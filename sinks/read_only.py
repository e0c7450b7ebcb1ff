"""User SQL against the audit log: what `dana-wf audit sql` may run, and the checks that say so.

The ENGINE enforces read-only; the text check here is only the friendly first message. Per backend
(docs/audit.md, "What audit sql allows"):

- chdb (in-process and behind the writer process) runs user SQL on a second session opened with
  ``readonly=1``: ClickHouse itself refuses every write (INSERT in any form, ``INSERT INTO FUNCTION``),
  DDL, SYSTEM, SET and every SETTINGS clause (so ``readonly=0`` too), and every table function (file,
  url, s3, remote, executable, dictionary...). Measured on chdb 26.9, three things get past
  ``readonly=1`` there, because chdb is clickhouse-local: ``INTO OUTFILE`` (its embedded client writes
  the file), a second statement after ``;`` (its client splits the text and runs each), and the
  ``file()`` function (local mode reads any path; ``user_files_path`` does not confine it). So the
  statement is first parsed by the engine: ``formatQuerySingleLine`` refuses more than one statement
  and gives the one statement chdb then runs, and ``EXPLAIN AST`` of it is checked by
  ``check_parsed`` for a reading kind, no INTO OUTFILE and no host function.
- a ClickHouse server runs user SQL with ``readonly=1`` as a query setting (the native protocol): it
  refuses writes, settings and table functions; its parser refuses a second statement, and INTO OUTFILE
  is a client feature the server never performs.
"""

from __future__ import annotations

import difflib
import re

READ_ONLY_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "EXISTS"})

# The query setting both engines enforce: reads only, no setting may change (readonly=2 would let a
# query change settings, and chdb 26.9 then allows the file() table function: measured).
READONLY_SETTINGS = {"readonly": 1}

# Functions that reach the host even under readonly=1 in chdb (clickhouse-local): file() reads any path.
HOST_FUNCTIONS = frozenset({"file"})

# EXPLAIN AST's first line names the statement's node; these kinds only read.
_READING_KIND = re.compile(r"(Select|Show|Describe|Explain|Exists)\w*")
_FUNCTION_LINE = re.compile(r"\s*Function (\S+)")
_KEYWORD = re.compile(r"\w*")


class NotReadOnlyError(ValueError):
    """User SQL that could change the audit log or reach the host; the message says what and why."""


def check_read_only(sql: str) -> str:
    """The one statement of `sql`, without a trailing `;`; NotReadOnlyError for anything else.

    A friendly first message only: the engine's refusal (above) is what protects the log."""
    statement = sql.strip().rstrip(";").rstrip()
    first = _first_word(statement)
    if first not in READ_ONLY_STATEMENTS:
        close = difflib.get_close_matches(first, sorted(READ_ONLY_STATEMENTS), n=1, cutoff=0.75)
        # a typo of a reading statement; no write is that close to one (DELETE to SELECT: 0.67, tested)
        if close:
            raise NotReadOnlyError(f"{first} is not a statement: did you mean {close[0]}?")
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


def check_parsed(ast: str) -> None:
    """Refuse, from the engine's own parse (EXPLAIN AST output), what readonly=1 does not stop in chdb."""
    lines = ast.splitlines()
    head = lines[0].split(" ", 1)[0] if lines else ""
    if not _READING_KIND.fullmatch(head):
        raise NotReadOnlyError(
            f"the engine parses this as {head or 'nothing'}, not a reading statement: audit rows are "
            "never changed or deleted"
        )
    for line in lines[1:]:
        # the statement's own children sit one space deep; a literal there is INTO OUTFILE's file name
        # (or its COMPRESSION), never part of a reading query's body
        if line.startswith(" Literal "):
            raise NotReadOnlyError(
                "INTO OUTFILE is refused: audit sql prints its result and writes no file "
                "(use --json and redirect the output)"
            )
        called = _FUNCTION_LINE.match(line)
        if called and called.group(1) in HOST_FUNCTIONS:
            raise NotReadOnlyError(
                f"the function {called.group(1)}() reads files of the host and is refused in audit sql"
            )


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
    # the statement's keyword: its letters, up to the first character that is not one (`SELECT*FROM t`,
    # `SELECT(1)` are SELECTs; the engine, not this word, decides what runs); text that starts with no
    # letter is named by its first token
    keyword = _KEYWORD.match(text)
    word = keyword.group() if keyword else ""
    return (word or (text.split(None, 1)[0] if text.strip() else "")).upper()


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
