"""Audit insert throughput: BatchingAuditSink next to a raw insert of the same rows, in the same run.

    python bench/audit_insert.py [--rows 100000] [--batch-size 20000] [--dsn clickhouse://...] [--skip-chdb]

Server: the raw path is clickhouse-driver's columnar INSERT in batches of --batch-size; the sink path is
``await sink.put([row])`` per row (as the Kafka audit agent does) through ServerAuditStore. Without --dsn
(or DWF_BENCH_CLICKHOUSE_DSN) a local clickhouse-server is started on free ports and stopped afterwards.
chdb: the raw path is a chdb session INSERT ... FORMAT JSONColumns per batch (the cheapest text format to
build and parse here, orjson-rendered); the sink paths are the same put loop through ChdbAuditStore in this
process and through ChdbProcessStore (the writer process `dana-wf run` and workers use: time here is wall
time, its chdb work runs on another core). Each path writes its own fresh database. Prints rows/s and
the ratios; best of --repeat runs; a figure, never a pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from dana_workflows.sinks.audit_model import AUDIT_TABLE, COLUMNS, AuditRow, AuditStore, columns_of, seal
from dana_workflows.sinks.batching import BatchingAuditSink, Origin
from dana_workflows.sinks.ddl import create_database, create_events_table, parse_version


def make_rows(n: int, per_run: int = 20) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = ""
    for i in range(n):
        run, seq = divmod(i, per_run)
        if seq == 0:
            prev = ""
        row = AuditRow(
            workflow="claims-triage",
            workflow_version=3,
            run_id=f"run-{run:08d}",
            seq=seq,
            event_id=f"evt-{i:010d}",
            step=("check_claim", "triage", "pay")[seq % 3],
            kind=("received", "emitted", "routed")[seq % 3],
            decision="auto_pay" if seq % 3 == 2 else "",
            rule_results='[{"id":"positive_amount","passed":true}]',
            duration_us=120 + seq,
            details='{"amount":812.5,"currency":"EUR"}',
            ts_us=1_700_000_000_000_000 + i * 1000,
        )
        prev = seal(row, prev).hash
        rows.append(row)
    return rows


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def through_sink(store: AuditStore, rows: list[AuditRow], batch_size: int) -> BatchingAuditSink:
    sink = BatchingAuditSink(store, batch_size=batch_size, interval_s=1.0, buffer_max=batch_size * 4)
    for offset, row in enumerate(rows):
        await sink.put([row], Origin("dwf.audit", 0, offset))
    await sink.close()
    return sink


def line(label: str, n: int, seconds: float, raw_seconds: float | None = None) -> None:
    rate = n / seconds if seconds else float("inf")
    ratio = f"  {raw_seconds / seconds:5.2f}x raw" if raw_seconds else ""
    print(f"  {label:<38} {n:>9,} rows {seconds:8.3f}s {rate:>12,.0f} rows/s{ratio}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_server(rows: list[AuditRow], batch_size: int, dsn: str | None, repeat: int) -> dict[str, float]:
    from clickhouse_driver import Client

    from dana_workflows.devservices.clickhouse.server import LocalClickHouse
    from dana_workflows.sinks.clickhouse_server import ServerAuditStore
    from dana_workflows.sinks.dsn import ClickHouseServerConfig, parse_dsn

    server = None
    if dsn is None:
        server = LocalClickHouse(
            Path(tempfile.mkdtemp(prefix="dwf-bench-ch-")), tcp_port=free_port(), http_port=free_port()
        )
        started = time.perf_counter()
        dsn = server.up()
        print(f"  (local clickhouse-server started in {time.perf_counter() - started:.2f}s)")
    config = parse_dsn(dsn)
    assert isinstance(config, ClickHouseServerConfig), "--dsn must be clickhouse://"
    client = Client(
        config.host, port=config.port, user=config.user, password=config.password.get_secret_value()
    )
    try:
        version = parse_version(client.execute("SELECT version()")[0][0])
        print(f"ClickHouse server {'.'.join(map(str, version))} at {config.redacted()}")
        raw_times: list[float] = []
        sink_times: list[float] = []
        for i in range(repeat):
            raw_db, sink_db = f"dwf_bench_raw_{i}", f"dwf_bench_sink_{i}"
            for db in (raw_db, sink_db):
                client.execute(f"DROP DATABASE IF EXISTS {db}")
                client.execute(create_database(db))
                client.execute(create_events_table(db, version))
            insert = f"INSERT INTO {raw_db}.{AUDIT_TABLE} ({', '.join(COLUMNS)}) VALUES"

            def raw(insert: str = insert) -> None:
                for start in range(0, len(rows), batch_size):
                    chunk = rows[start : start + batch_size]
                    columns = [list(c) for c in zip(*(r.as_tuple() for r in chunk), strict=True)]
                    client.execute(insert, columns, columnar=True)

            raw_times.append(timed(raw))
            store = ServerAuditStore.from_config(config.model_copy(update={"database": sink_db}))
            store.ensure_schema()
            sink_times.append(timed(lambda store=store: asyncio.run(through_sink(store, rows, batch_size))))
            store.close()
            for db in (raw_db, sink_db):
                stored = client.execute(f"SELECT count() FROM {db}.{AUDIT_TABLE}")[0][0]
                assert stored == len(rows), f"{db}: {stored} rows stored, expected {len(rows)}"
                client.execute(f"DROP DATABASE IF EXISTS {db}")
        raw_s, sink_s = min(raw_times), min(sink_times)
        line("raw clickhouse-driver columnar", len(rows), raw_s)
        line("BatchingAuditSink -> server", len(rows), sink_s, raw_s)
        return {"server_raw": raw_s, "server_sink": sink_s}
    finally:
        client.disconnect()
        if server is not None:
            server.down()
            shutil.rmtree(server.data_dir, ignore_errors=True)


def bench_chdb(rows: list[AuditRow], batch_size: int, repeat: int) -> dict[str, float]:
    from chdb import session

    from dana_workflows.sinks.chdb_process import ChdbProcessStore
    from dana_workflows.sinks.chdb_store import ChdbAuditStore

    path = Path(tempfile.mkdtemp(prefix="dwf-bench-chdb-"))
    raw_session = session.Session(str(path / "raw"))
    version = parse_version(str(raw_session.query("SELECT version()", "TSVRaw")).strip())
    print(f"chdb (ClickHouse {'.'.join(map(str, version))}) at {path}")
    raw_times: list[float] = []
    for i in range(repeat):
        db = f"raw_{i}"
        raw_session.query(create_database(db))
        raw_session.query(create_events_table(db, version))
        head = f"INSERT INTO {db}.{AUDIT_TABLE} ({', '.join(COLUMNS)}) FORMAT JSONColumns\n"

        def raw(head: str = head) -> None:
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                body = orjson.dumps(dict(zip(COLUMNS, columns_of(chunk), strict=True)))
                raw_session.query(head + body.decode())

        raw_times.append(timed(raw))
        raw_count = int(str(raw_session.query(f"SELECT count() FROM {db}.{AUDIT_TABLE}", "TSVRaw")).strip())
        assert raw_count == len(rows), raw_count
    raw_session.close()  # chdb holds one session per process: close before the store opens its own
    times: dict[str, list[float]] = {"sink": [], "writer": []}
    for i in range(repeat):
        for kind, open_store in (("sink", ChdbAuditStore), ("writer", ChdbProcessStore)):
            store: AuditStore = open_store(path / kind, database=f"{kind}_{i}")
            store.ensure_schema()
            times[kind].append(timed(lambda store=store: asyncio.run(through_sink(store, rows, batch_size))))
            stored = int(store.query(f"SELECT count() AS n FROM {kind}_{i}.{AUDIT_TABLE}").rows[0][0])
            store.close()
            assert stored == len(rows), stored
    shutil.rmtree(path, ignore_errors=True)
    raw_s, sink_s, writer_s = min(raw_times), min(times["sink"]), min(times["writer"])
    line("raw chdb INSERT (JSONColumns)", len(rows), raw_s)
    line("BatchingAuditSink -> ChdbAuditStore", len(rows), sink_s, raw_s)
    line("BatchingAuditSink -> writer process", len(rows), writer_s, raw_s)
    return {"chdb_raw": raw_s, "chdb_sink": sink_s, "chdb-writer_raw": raw_s, "chdb-writer_sink": writer_s}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=20_000, help="as DWF_AUDIT_BATCH_SIZE's default")
    parser.add_argument("--dsn", default=os.environ.get("DWF_BENCH_CLICKHOUSE_DSN"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per path")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-chdb", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = make_rows(args.rows)
    built = time.perf_counter() - started
    print(f"{len(rows):,} chained audit rows built in {built:.2f}s; batch size {args.batch_size}")
    results: dict[str, float] = {}
    if not args.skip_server:
        results |= bench_server(rows, args.batch_size, args.dsn, args.repeat)
    if not args.skip_chdb:
        results |= bench_chdb(rows, args.batch_size, args.repeat)
    print("ratios (sink rows/s / raw rows/s):")
    for backend in ("server", "chdb", "chdb-writer"):
        if f"{backend}_raw" in results:
            print(f"  {backend:<12} {results[f'{backend}_raw'] / results[f'{backend}_sink']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
