"""Audit table DDL shared by the embedded (chdb) and server (clickhouse-driver) backends.

Plain MergeTree, no TTL: rows are never replaced or expired. Portable down to ClickHouse 18.16;
the insert-deduplication window for non-replicated tables is added only where the server has it.
"""

from __future__ import annotations

from dana_workflows.sinks.audit_model import AUDIT_TABLE

DEDUP_WINDOW = 10_000  # inserts remembered for insert_deduplication_token


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.strip().strip('"').split("."):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts)


def supports_dedup_token(version: tuple[int, ...]) -> bool:
    """insert_deduplication_token on non-replicated MergeTree arrived in ClickHouse 22.x."""
    return version >= (22, 2)


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {database}"


def create_events_table(database: str, version: tuple[int, ...]) -> str:
    settings = f" SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{AUDIT_TABLE} (\n"
        "  workflow String,\n"
        "  workflow_version UInt32,\n"
        "  run_id String,\n"
        "  seq UInt32,\n"
        "  event_id String,\n"
        "  step String,\n"
        "  kind String,\n"
        "  decision String,\n"
        "  reason String,\n"
        "  rule_results String,\n"
        "  attempt UInt16,\n"
        "  duration_us UInt64,\n"
        "  details String,\n"
        "  ts_us UInt64,\n"
        "  prev_hash String,\n"
        "  hash String,\n"
        "  ts DateTime MATERIALIZED toDateTime(intDiv(ts_us, 1000000))\n"
        ") ENGINE = MergeTree()\n"
        "PARTITION BY toYYYYMM(ts)\n"
        "ORDER BY (workflow, run_id, seq)" + (settings if supports_dedup_token(version) else "")
    )
