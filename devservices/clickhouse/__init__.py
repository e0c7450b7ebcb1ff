"""A local ClickHouse server (Debian's clickhouse-server) for tests and laptops: install, up, down, status."""

from dana_workflows.devservices.clickhouse.server import (
    ClickHouseLocalError,
    LocalClickHouse,
    down,
    ensure_installed,
    status,
    up,
)

__all__ = ["ClickHouseLocalError", "LocalClickHouse", "down", "ensure_installed", "status", "up"]
