"""A DSN's errors name the store it is for and that store's own chdb example directory (chdb serves one
directory per process, so the knowledge store's example must not be the audit's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.sinks.dsn import DsnError, parse_dsn

pytestmark = pytest.mark.unit

BAD = [
    "localhost:9000",
    "postgres://h/db",
    "chdb://",
    "chdb://d?database=1x",
    "chdb://d?nope=1",
    "clickhouse://",
    "clickhouse://h:notaport/db",
    "clickhouse://h/db?sslmode=require",
    "clickhouse://h/db?secure=1&secure=0",
    "clickhouse://h/db?secure=maybe",
    "clickhouse://h/db?connect_timeout=soon",
    "clickhouse://h/db?connect_timeout=0",
    "clickhouse://h/db?ca_certs=/nope.pem",
    "clickhouse://h/db?secure=1&ca_certs=/nope.pem",
    "clickhouse://h/a/b",
]


@pytest.mark.parametrize("dsn", BAD)
def test_every_error_names_the_store_it_is_for(dsn: str) -> None:
    with pytest.raises(DsnError) as audit:
        parse_dsn(dsn)
    with pytest.raises(DsnError) as knowledge:
        parse_dsn(dsn, store="knowledge", chdb_example="chdb://.dwf/knowledge")
    assert str(audit.value).startswith("audit DSN ")
    assert str(knowledge.value).startswith("knowledge DSN ")
    assert "audit" not in str(knowledge.value)
    # the same sentence otherwise
    assert str(knowledge.value).replace("knowledge", "audit") == str(audit.value)


@pytest.mark.parametrize("dsn", ["localhost:9000", "postgres://x", "chdb://"])
def test_the_example_is_the_stores_own_directory(dsn: str) -> None:
    with pytest.raises(DsnError) as audit:
        parse_dsn(dsn)
    with pytest.raises(DsnError) as knowledge:
        parse_dsn(dsn, store="knowledge", chdb_example="chdb://.dwf/knowledge")
    assert "chdb://.dwf/audit" in str(audit.value)
    assert "chdb://.dwf/knowledge" in str(knowledge.value)


def test_a_good_dsn_parses_the_same_for_any_store(tmp_path: Path) -> None:
    for dsn in (f"chdb://{tmp_path}?database=k", "clickhouse://u:p@h:9000/kdb?secure=1"):
        assert parse_dsn(dsn, store="knowledge", chdb_example="chdb://.dwf/knowledge") == parse_dsn(dsn)
