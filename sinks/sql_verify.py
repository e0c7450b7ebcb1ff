"""The hash-chain check in plain ClickHouse SQL, so an auditor can verify the log without this code.

The queries recompute what sinks/verify.py recomputes, and report the same findings (changed, removed,
reordered, forked, duplicate) as rows of (kind, workflow, run_id, seq, event_id, detail). They use only
functions ClickHouse 18.16 already has (SHA256, arrayStringConcat, groupArray, arraySort, ARRAY JOIN,
arrayEnumerate; no window functions, no neighbor()), so they run on Debian's old server as on chdb 26.x.
docs/audit.md shows them verbatim for database `dwf`; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable

from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks.audit_model import AUDIT_TABLE, HASHED_COLUMNS, AuditStore, store_database
from dana_workflows.sinks.verify import Finding

_NUMERIC = frozenset({"workflow_version", "seq", "attempt", "duration_us", "ts_us"})


def _check_database(database: str) -> str:
    if not database or not database.replace("_", "a").isalnum() or database[0].isdigit():
        raise ValueError(
            f"database name {database!r} must be letters, digits and underscores (not starting with a digit)"
        )
    return database


def canonical_content_sql() -> str:
    """sinks.audit_model.canonical_content as a ClickHouse expression: the columns as text, unit-separated."""
    parts = [f"toString({c})" if c in _NUMERIC else c for c in HASHED_COLUMNS]
    lines = ",\n            ".join(", ".join(parts[i : i + 4]) for i in range(0, len(parts), 4))
    return f"arrayStringConcat([\n            {lines}\n        ], '\\x1f')"


def changed_rows_sql(database: str = "dwf") -> str:
    """Rows whose content does not hash to the hash they carry: edited after they were written."""
    db = _check_database(database)
    return f"""SELECT DISTINCT
    'changed' AS kind, workflow, run_id, seq, event_id,
    concat(kind_, ' at ', step, ': content does not match its hash') AS detail
FROM
(
    SELECT workflow, run_id, seq, event_id, step, kind AS kind_, hash,
        lower(hex(SHA256({canonical_content_sql()}))) AS recomputed
    FROM {db}.{AUDIT_TABLE}
)
WHERE recomputed != hash
ORDER BY workflow, run_id, seq"""


def broken_links_sql(database: str = "dwf") -> str:
    """Gaps in a run's seq (removed rows) and rows whose prev_hash is not the hash of the row before.

    Per seq the row with the smallest hash stands for the position (as verify_rows does); the others are
    forks, reported by forked_rows_sql.
    """
    db = _check_database(database)
    return f"""SELECT
    if(position > expected_seq, 'removed', 'reordered') AS kind,
    workflow, run_id,
    if(position > expected_seq, expected_seq, position) AS seq,
    event_id,
    if(position > expected_seq,
        concat('rows ', toString(expected_seq), '..', toString(position - 1), ' are missing before seq ',
            toString(position)),
        'does not link to the row before it') AS detail
FROM
(
    SELECT workflow, run_id,
        tupleElement(link, 1) AS position,
        tupleElement(link, 3) AS linked_to,
        tupleElement(link, 4) AS event_id,
        if(i = 1, 0, tupleElement(chain[i - 1], 1) + 1) AS expected_seq,
        if(i = 1, '{GENESIS_HASH}', tupleElement(chain[i - 1], 2)) AS expected_prev
    FROM
    (
        SELECT workflow, run_id, arraySort(groupArray((seq, kept_hash, kept_prev, kept_event))) AS chain
        FROM
        (
            SELECT workflow, run_id, seq, min(hash) AS kept_hash,
                argMin(prev_hash, hash) AS kept_prev, argMin(event_id, hash) AS kept_event
            FROM {db}.{AUDIT_TABLE}
            GROUP BY workflow, run_id, seq
        )
        GROUP BY workflow, run_id
    )
    ARRAY JOIN chain AS link, arrayEnumerate(chain) AS i
)
WHERE position != expected_seq OR linked_to != expected_prev
ORDER BY workflow, run_id, seq"""


def forked_rows_sql(database: str = "dwf") -> str:
    """Positions held by more than one different row: every row but the one with the smallest hash."""
    db = _check_database(database)
    return f"""SELECT
    'forked' AS kind, workflow, run_id, seq, tupleElement(version, 2) AS event_id,
    'two different rows claim this position' AS detail
FROM
(
    SELECT workflow, run_id, seq, arraySort(groupUniqArray((hash, event_id))) AS versions
    FROM {db}.{AUDIT_TABLE}
    GROUP BY workflow, run_id, seq
    HAVING length(versions) > 1
)
ARRAY JOIN arraySlice(versions, 2) AS version
ORDER BY workflow, run_id, seq"""


def duplicate_rows_sql(database: str = "dwf") -> str:
    """The same row stored more than once (a replayed insert): one finding per extra copy, like verify_rows.

    Expected after a crash under at-least-once delivery; reported apart from tampering.
    """
    db = _check_database(database)
    return f"""SELECT
    'duplicate' AS kind, workflow, run_id, seq, event_id,
    concat(kind_, ' at ', step, ' delivered again') AS detail
FROM
(
    SELECT workflow, run_id, seq, hash, any(event_id) AS event_id, any(kind) AS kind_, any(step) AS step,
        count() AS copies
    FROM {db}.{AUDIT_TABLE}
    GROUP BY workflow, run_id, seq, hash
    HAVING copies > 1
)
ARRAY JOIN range(toUInt64(copies - 1)) AS extra_copy
ORDER BY workflow, run_id, seq"""


CHECKS: dict[str, Callable[[str], str]] = {
    "changed": changed_rows_sql,
    "links": broken_links_sql,
    "forked": forked_rows_sql,
    "duplicate": duplicate_rows_sql,
}


def sql_chain_findings(store: AuditStore, database: str | None = None) -> list[Finding]:
    """Run every check in the store's ClickHouse; one Finding per problem, as verify_rows would name it."""
    db = database or store_database(store)
    findings: list[Finding] = []
    for build in CHECKS.values():
        for kind, _workflow, run_id, seq, event_id, detail in store.query(build(db)).rows:
            findings.append(Finding(str(kind), str(run_id), int(seq), str(event_id), str(detail)))
    findings.sort(key=lambda f: (f.run_id, f.seq, f.kind, f.event_id))
    return findings
