"""The statement's keyword is its leading letters (sinks/read_only._first_word), not its first
whitespace-separated token: `SELECT*FROM t` and `SELECT(1)` are SELECTs that ClickHouse runs, which the
check refused with 'SELECT* is not a statement: did you mean SELECT?'. A write glued to a symbol is still
named and refused as a write, and the engine's parse still decides on chdb (check_parsed)."""

from __future__ import annotations

import pytest

from dana_workflows.sinks.read_only import NotReadOnlyError, check_parsed, check_read_only
from tests.unit.sinks.test_read_only import explain as explain  # the chdb fixture

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "sql", ["SELECT*FROM system.one", "SELECT(1)", "select(dummy)from system.one", "SHOW(TABLES)"]
)
def test_a_reading_keyword_glued_to_a_symbol_passes(sql: str) -> None:
    assert check_read_only(sql) == sql


@pytest.mark.parametrize("sql", ["SELECT*FROM system.one", "SELECT(1)", "select(dummy)from system.one"])
def test_the_engine_parses_them_as_reading(explain, sql: str) -> None:  # type: ignore[no-untyped-def]
    check_parsed(explain(sql))


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("INSERT(1)", "INSERT"),
        ("DELETE*FROM t", "DELETE"),
        ("DROP/**/TABLE dwf.events", "DROP"),
        ("*", "*"),
        ("'x' AS y", "'X'"),
    ],
)
def test_a_write_or_a_symbol_is_refused_by_name(sql: str, named: str) -> None:
    with pytest.raises(NotReadOnlyError) as err:
        check_read_only(sql)
    assert str(err.value).endswith(f"; {named} is refused: audit rows are never changed or deleted")
