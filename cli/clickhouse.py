"""``python -m dana_workflows.cli.clickhouse install|up|down|status``: the local test ClickHouse server."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dana_workflows.devservices.clickhouse.server import (
    DEFAULT_DATA_DIR,
    DEFAULT_HTTP_PORT,
    DEFAULT_TCP_PORT,
    ClickHouseLocalError,
    LocalClickHouse,
    ensure_installed,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dana_workflows.cli.clickhouse", description=__doc__)
    parser.add_argument("command", choices=["install", "up", "down", "status"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=f"default {DEFAULT_DATA_DIR}")
    parser.add_argument("--port", type=int, default=DEFAULT_TCP_PORT, help="native protocol port")
    parser.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.command == "install":
            print(f"clickhouse-server: {ensure_installed()}")
        elif args.command == "up":
            dsn = LocalClickHouse(args.data_dir, args.port, args.http_port).up()
            print(dsn)
            print(f"started in {time.monotonic() - started:.2f}s", file=sys.stderr)
        elif args.command == "down":
            stopped = LocalClickHouse.attach(args.data_dir).down()
            print("stopped" if stopped else "not running")
        else:
            state = LocalClickHouse.attach(args.data_dir).status()
            print(json.dumps(state, indent=2))
            return 0 if state["running"] else 3
    except ClickHouseLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
