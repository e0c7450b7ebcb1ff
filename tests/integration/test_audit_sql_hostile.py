"""Hostile SQL through the user-SQL path of every backend (chdb, the chdb writer process, the server).

Each attempt of the corpus must be refused with one line AND change nothing: the table's rows (count and
every hash) are the same after it, and no file appears in the working directory or the target directory.
The texts are the issue's four, then CTEs, comments, unicode look-alikes, SETTINGS readonly=0, table
functions, dictionaries and system statements that write; sinks/read_only.py says which layer refuses
which (the text guard is only the first message: several texts here pass it on purpose).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.read_only import check_read_only
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.integration

# {t}: the audit table; {d}: a directory that must stay empty. Texts that pass the text guard are
# marked by the test below, so the corpus provably reaches the engine.
CORPUS = [
    # the four
    "WITH 1 AS one INSERT INTO {t} (workflow, run_id, seq, kind) "
    "SELECT 'claims-triage','forgedrun',0,'completed'",
    "WITH 1 AS a INSERT INTO FUNCTION file('{d}/pwn.txt','CSV','x String') SELECT 'pwned'",
    "SELECT 1 INTO OUTFILE '{d}/out.txt'",
    "SELECT * FROM file('/etc/passwd','LineAsString') LIMIT 2",
    # CTEs and relative paths (the working directory)
    "WITH x AS (SELECT 1) INSERT INTO {t} (run_id) SELECT 'cte' FROM x",
    "WITH 1 AS a INSERT INTO FUNCTION file('pwn.txt','CSV','x String') SELECT 'pwned'",
    "WITH (SELECT 1) AS a SELECT a INTO OUTFILE 'rel.txt'",
    # comments
    "/* SELECT */ INSERT INTO {t} (run_id) VALUES ('c')",
    "SELECT 1 -- ;\n; INSERT INTO {t} (run_id) VALUES ('c')",
    "SELECT 1 # '\n; SELECT 2 INTO OUTFILE '{d}/hash.txt'",
    "SELECT 1 /* ; */; ALTER TABLE {t} DELETE WHERE 1",
    # unicode look-alikes
    "ＳＥＬＥＣＴ 1",  # noqa: RUF001 - fullwidth letters on purpose
    "S\u0415LECT 1; DROP TABLE {t}",  # Cyrillic E
    "SELECT 1 \uff1b DROP TABLE {t}",  # fullwidth semicolon
    "INSERT\u00a0INTO {t} (run_id) VALUES ('nbsp')",
    "SELECT 1 INTO\u2003OUTFILE '{d}/em.txt'",
    # settings
    "SELECT count() FROM {t} SETTINGS readonly=0",
    "WITH 1 AS a INSERT INTO {t} (run_id) SETTINGS readonly=0 VALUES ('s')",
    "SELECT 1 SETTINGS readonly=2",
    "SET readonly = 0",
    # table functions
    "SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'x String')",
    "SELECT * FROM remote('127.0.0.1:1', system.one)",
    "SELECT * FROM executable('id', 'LineAsString', 'x String')",
    "SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV', 'x String')",
    "SELECT file('/etc/passwd')",
    "DESCRIBE file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM view(SELECT file('/etc/hostname'))",
    # dictionaries
    "CREATE DICTIONARY dwf_pwn (k UInt64, v String) PRIMARY KEY k "
    "SOURCE(FILE(path '/etc/passwd' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)",
    "SELECT * FROM dictionary('dwf_pwn')",
    "SYSTEM RELOAD DICTIONARIES",
    # statements that write, with a reading first word or on their own
    "SYSTEM FLUSH LOGS",
    "OPTIMIZE TABLE {t} FINAL",
    "KILL QUERY WHERE 1",
    "TRUNCATE TABLE {t}",
    "ALTER TABLE {t} UPDATE decision = 'x' WHERE 1",
    "RENAME TABLE {t} TO {t}_gone",
    "CREATE TABLE {t}_copy AS {t}",
    "EXPLAIN SELECT 1 INTO OUTFILE '{d}/explain.txt'",
    "SHOW TABLES INTO OUTFILE '{d}/show.txt'",
    "EXPLAIN AST SELECT 1; INSERT INTO {t} (run_id) VALUES ('multi')",
    "SELECT ';' AS s; DROP TABLE {t}",
]

# a server performs no INTO OUTFILE: it is a client feature (clickhouse-client/local write the file), so
# over the native protocol the server runs the SELECT, and nothing is written (checked all the same)
SERVER_RUNS_AS_READ = {
    "SELECT 1 INTO OUTFILE '{d}/out.txt'",
    "WITH (SELECT 1) AS a SELECT a INTO OUTFILE 'rel.txt'",
    "SHOW TABLES INTO OUTFILE '{d}/show.txt'",
}


def _state(store: AuditStore, table: str) -> list[str]:
    return [h for (h,) in store.query(f"SELECT hash FROM {table} ORDER BY run_id, seq").rows]


def _files(*dirs: Path) -> list[str]:
    return sorted(str(p) for d in dirs for p in d.rglob("*"))


@pytest.mark.parametrize("template", CORPUS)
def test_hostile_sql_is_refused_and_changes_nothing(
    audit_store: AuditStore, template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"{audit_store.database}.events"  # type: ignore[attr-defined]
    target, cwd = tmp_path / "target", tmp_path / "cwd"
    target.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    audit_store.insert(audit_chain("run-a", 3))
    before = _state(audit_store, table)
    sql = template.format(t=table, d=target)
    is_server = type(audit_store).__name__ == "ServerAuditStore"
    if is_server and template in SERVER_RUNS_AS_READ:
        audit_store.query(sql)  # answered as the read it is; the checks below hold all the same
    else:
        with pytest.raises(AuditStoreError) as refused:
            audit_store.query(sql)
        message = str(refused.value)
        assert "\n" not in message and "Stack trace" not in message, message
        assert "root:" not in message  # nothing of the host's files in the answer either
    assert _state(audit_store, table) == before
    assert _files(target, cwd) == []
    assert not os.path.exists(f"{table}_gone")


def test_the_corpus_reaches_the_engine() -> None:
    """At least these texts pass the friendly text guard: what refuses them is the engine."""
    passing = []
    for template in CORPUS:
        try:
            check_read_only(template.format(t="dwf.events", d="/tmp/x"))
            passing.append(template)
        except ValueError:
            pass
    assert len(passing) >= 15, passing
    assert CORPUS[0] in passing and CORPUS[1] in passing and CORPUS[3] in passing


def test_reading_statements_still_answer(audit_store: AuditStore) -> None:
    table = f"{audit_store.database}.events"  # type: ignore[attr-defined]
    audit_store.insert(audit_chain("run-a", 3))
    assert audit_store.query(f"WITH 2 AS n SELECT count() + n FROM {table}").rows == [(5,)]
    assert audit_store.query(f"SELECT count() FROM {table} -- a comment; with a semicolon\n").rows == [(3,)]
    assert audit_store.query(f"SELECT 'INTO OUTFILE; file(x)' AS s FROM {table} LIMIT 1").rows == [
        ("INTO OUTFILE; file(x)",)
    ]
    assert ("events",) in audit_store.query(f"SHOW TABLES FROM {audit_store.database}").rows  # type: ignore[attr-defined]
    assert audit_store.query(f"EXISTS TABLE {table}").rows == [(1,)]
