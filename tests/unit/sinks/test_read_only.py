"""The guard on user SQL against the embedded audit store (sinks.read_only): one reading statement.

The contract suite (tests/integration/test_clickhouse_server_store.py) runs the refused texts against
every backend and checks the rows are still there; this checks the scanner's edges."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dana_workflows.sinks.read_only import NotReadOnlyError, check_parsed, check_read_only

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  select count() FROM dwf.events ;  ", "select count() FROM dwf.events"),
        ("SELECT 'a;b' AS s", "SELECT 'a;b' AS s"),
        ("SELECT 'it''s; fine'", "SELECT 'it''s; fine'"),
        ("SELECT 'back\\\\'", "SELECT 'back\\\\'"),
        ("SELECT 'esc\\'; still a string'", "SELECT 'esc\\'; still a string'"),
        ('SELECT 1 AS "a;b"', 'SELECT 1 AS "a;b"'),
        ("SELECT 1 AS `x;y`", "SELECT 1 AS `x;y`"),
        ("SELECT 1 -- a comment; with a semicolon\nFROM system.one", None),
        ("/* why */ SELECT 1 /* ; */", "/* why */ SELECT 1 /* ; */"),
        ("-- lead\nWITH 1 AS x SELECT x", None),
        ("(SELECT 1)", None),
        ("(\nSELECT 1)", None),
        ("SHOW TABLES", None),
        ("DESCRIBE dwf.events", None),
        ("EXPLAIN SELECT 1", None),
    ],
)
def test_one_reading_statement_passes(sql: str, statement: str | None) -> None:
    assert check_read_only(sql) == (statement if statement is not None else sql.strip())


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("TRUNCATE TABLE dwf.events", "TRUNCATE is refused"),
        ("ALTER TABLE dwf.events DELETE WHERE 1", "ALTER is refused"),
        ("insert into dwf.events values (1)", "INSERT is refused"),
        ("", "an empty statement is refused"),
        ("  ;  ", "an empty statement is refused"),
        ("/* SELECT */ DROP TABLE dwf.events", "DROP is refused"),
        ("SELECT 1; TRUNCATE TABLE dwf.events", "after the ';' at character 9"),
        ("SELECT 1;DROP TABLE dwf.events;", "one statement per query"),
        ("SELECT 'x' ; DELETE FROM dwf.events WHERE 1", "one statement per query"),
        ("SELECT 1 # comment? ; DROP TABLE dwf.events", "one statement per query"),
        ("SELECT 1 /* a */ ; /* b */ DROP TABLE t", "one statement per query"),
        ("SELECT 'unclosed ; DROP TABLE t", None),  # one broken literal: ClickHouse refuses it itself
    ],
)
def test_anything_else_is_refused_with_why(sql: str, named: str | None) -> None:
    if named is None:
        assert check_read_only(sql) == sql
        return
    with pytest.raises(NotReadOnlyError, match=named.replace("(", r"\(").replace("'", "'")):
        check_read_only(sql)


@pytest.fixture(scope="module")
def explain(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """EXPLAIN AST from a real read-only chdb session: the text check_parsed reads."""
    from chdb import session

    s: Any = session.Session(f"{tmp_path_factory.mktemp('chdb')}?readonly=1")  # type: ignore[no-untyped-call]
    yield lambda sql: str(s.query(f"EXPLAIN AST {sql}", "TSVRaw"))
    s.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM system.one WHERE dummy = 0 LIMIT 3",
        "WITH 1 AS x SELECT x UNION ALL SELECT 2",
        "SELECT 'INTO OUTFILE' AS s, 'file(x)' AS f",
        "SHOW TABLES FROM system LIKE '%one%'",
        "DESCRIBE system.one",
        "EXPLAIN SELECT 1",
        "EXISTS TABLE system.one",
        "SELECT profile FROM system.one AS file",  # a name, not the function
    ],
)
def test_reading_statements_pass_the_engine_parse(explain, sql: str) -> None:  # type: ignore[no-untyped-def]
    check_parsed(explain(sql))


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("WITH 1 AS a INSERT INTO t (x) SELECT a", "parses this as InsertQuery"),
        ("SELECT 1 INTO OUTFILE 'x.txt'", "INTO OUTFILE is refused"),
        ("EXPLAIN SELECT 1 INTO OUTFILE 'x.txt'", "INTO OUTFILE is refused"),
        ("SHOW TABLES INTO OUTFILE 'x.txt' COMPRESSION 'gzip'", "INTO OUTFILE is refused"),
        ("SELECT length(file('/etc/hostname'))", "file() reads files of the host"),
        ("SELECT * FROM view(SELECT file('/etc/hostname'))", "file() reads files of the host"),
    ],
)
def test_what_readonly_does_not_stop_in_chdb_is_refused_from_the_parse(explain, sql: str, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotReadOnlyError, match=re.escape(named)):
        check_parsed(explain(sql))


@pytest.mark.parametrize(
    ("sql", "meant"), [("SELEC 1", "SELECT"), ("selet count() FROM t", "SELECT"), ("SHOWW TABLES", "SHOW")]
)
def test_a_misspelt_reading_statement_gets_the_closest_one_not_the_write_refusal(
    sql: str, meant: str
) -> None:
    with pytest.raises(NotReadOnlyError) as err:
        check_read_only(sql)
    assert str(err.value) == f"{sql.split()[0].upper()} is not a statement: did you mean {meant}?"


WRITES = ("INSERT", "ALTER", "DROP", "DELETE", "UPDATE", "CREATE", "TRUNCATE", "RENAME", "OPTIMIZE", "SYSTEM")
WRITES += ("SET", "GRANT", "REVOKE", "ATTACH", "DETACH", "KILL", "EXCHANGE", "UNDROP", "REPLACE", "USE")


@pytest.mark.parametrize("sql", [*(f"{w} x" for w in WRITES), "FOO bar"])
def test_a_write_or_an_unknown_word_is_refused_as_before(sql: str) -> None:
    """DELETE is as close to SELECT as a typo: a write is never offered a reading statement instead."""
    with pytest.raises(NotReadOnlyError) as err:
        check_read_only(sql)
    assert str(err.value).endswith("is refused: audit rows are never changed or deleted")
