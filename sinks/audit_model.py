"""The audit row, its hash chain, and the store contract every audit backend implements.

One row per transition of one event at one step. Rows of one run (one input's journey) form a
SHA-256 chain: each row's hash covers its canonical content and the previous row's hash, so a
changed, removed or reordered row breaks the chain at a point ``audit verify`` can name.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

AUDIT_TABLE = "events"

# The kind of a reviewer's decision row (dana-wf review decide; docs/audit.md, "Transition kinds"): written
# by processors/resume.py, read by the efficiency calibration and the compliance report.
OVERRIDE_KIND = "override"

# Column order is the insert order and the order of the hash's canonical content.
COLUMNS: tuple[str, ...] = (
    "workflow",
    "workflow_version",
    "run_id",
    "seq",
    "event_id",
    "step",
    "kind",
    "decision",
    "reason",
    "rule_results",
    "attempt",
    "duration_us",
    "details",
    "ts_us",
    "prev_hash",
    "hash",
)

HASHED_COLUMNS: tuple[str, ...] = COLUMNS[:-1]
_COLUMN_GETTERS = tuple(operator.attrgetter(c) for c in COLUMNS)


@dataclass(slots=True)
class AuditRow:
    workflow: str
    workflow_version: int
    run_id: str
    seq: int
    event_id: str
    step: str
    kind: str  # received | emitted | rejected | routed | error | defaulted | dlq | completed | drift ...
    decision: str = ""
    reason: str = ""
    rule_results: str = "[]"  # canonical JSON array
    attempt: int = 0
    duration_us: int = 0
    details: str = "{}"  # canonical JSON object
    ts_us: int = 0
    prev_hash: str = ""
    hash: str = ""

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}

    @classmethod
    def from_mapping(cls, m: dict[str, Any]) -> AuditRow:
        return cls(**{c: m[c] for c in COLUMNS})


def columns_of(rows: Sequence[AuditRow]) -> list[list[Any]]:
    """A batch as one list per column (COLUMNS order), for columnar inserts.

    Each column is read with map(attrgetter), a C loop that creates no per-row tuples: transposing
    row tuples cost ~1.8x more in a real run, mostly in the garbage collections those tuples set off.
    It runs under the GIL, on the pipeline's critical path.
    """
    return [list(map(get, rows)) for get in _COLUMN_GETTERS]


FIELD_SEPARATOR = "\x1f"  # ASCII unit separator (written out as \x1f in content_text)


def canonical_content(row: AuditRow) -> str:
    """The hashed content: every column but `hash`, as text, joined by the unit separator.

    Plain text rather than JSON so the chain can be recomputed in SQL as well
    (docs/audit.md: `hex(SHA256(concat(...)))`).
    """
    return content_text(
        row.workflow,
        row.workflow_version,
        row.run_id,
        row.seq,
        row.event_id,
        row.step,
        row.kind,
        row.decision,
        row.reason,
        row.rule_results,
        row.attempt,
        row.duration_us,
        row.details,
        row.ts_us,
        row.prev_hash,
    )


def content_text(
    workflow: str,
    workflow_version: int,
    run_id: str,
    seq: int,
    event_id: str,
    step: str,
    kind: str,
    decision: str,
    reason: str,
    rule_results: str,
    attempt: int,
    duration_us: int,
    details: str,
    ts_us: int,
    prev_hash: str,
) -> str:
    """canonical_content from the column values (HASHED_COLUMNS order), for callers that hold them
    before the row exists (processors.audit_trail.transition): one f-string, `!s` being str()."""
    return (
        f"{workflow}\x1f{workflow_version!s}\x1f{run_id}\x1f{seq!s}\x1f{event_id}\x1f{step}\x1f{kind}\x1f"
        f"{decision}\x1f{reason}\x1f{rule_results}\x1f{attempt!s}\x1f{duration_us!s}\x1f"
        f"{details}\x1f{ts_us!s}\x1f{prev_hash}"
    )


def row_digest(row: AuditRow) -> str:
    """The hash a row must carry: SHA-256 over its canonical content, which includes prev_hash."""
    return hashlib.sha256(canonical_content(row).encode("utf-8")).hexdigest()


def seal(row: AuditRow, prev_hash: str) -> AuditRow:
    row.prev_hash = prev_hash
    row.hash = row_digest(row)
    return row


@dataclass(slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class AuditStore(Protocol):
    """An audit backend. Insert-only: no implementation offers update or delete.

    Implementations block (chdb, clickhouse-driver); async runtimes call them from a thread.
    """

    def ensure_schema(self) -> None: ...

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None: ...

    def query(self, sql: str) -> QueryResult: ...

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        """The hashes of those rows the table holds already (a replay's rows a previous owner stored)."""
        ...

    def close(self) -> None: ...


PRESENCE_CHUNK = 1000  # hashes per presence query: stays well under a server's 256 KiB max_query_size


def stored_hashes(query: Callable[[str], QueryResult], table: str, rows: Sequence[AuditRow]) -> set[str]:
    """Every store's ``present``: which of `rows` `table` holds, by hash (unique per row: it chains run
    and seq), asked through the store's own read-only `query` in chunks.

    (workflow, run_id) lead the table's sort key, so the INs on them read only those runs' granules.
    Values are quoted literals (hashes are hex; names are escaped): chdb takes SQL text only.
    """
    found: set[str] = set()
    for start in range(0, len(rows), PRESENCE_CHUNK):
        chunk = rows[start : start + PRESENCE_CHUNK]
        flows = ", ".join(sql_string(w) for w in sorted({r.workflow for r in chunk}))
        runs = ", ".join(sql_string(run) for run in sorted({r.run_id for r in chunk}))
        hashes = ", ".join(sql_string(r.hash) for r in chunk)
        where = f"workflow IN ({flows}) AND run_id IN ({runs}) AND hash IN ({hashes})"
        sql = f"SELECT hash FROM {table} WHERE {where}"
        found.update(h for (h,) in query(sql).rows)
    return found


def store_database(store: object) -> str:
    """The database a store keeps its audit table in: each backend names its own (a server store the one
    in its DSN), "dwf" when it names none."""
    return str(getattr(store, "database", "dwf"))


def events_table(store: object) -> str:
    """The store's audit table, qualified by its database, for SQL written against it."""
    return f"{store_database(store)}.{AUDIT_TABLE}"


def sql_string(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
