"""Audit DSNs: both schemes, TLS options, defaults, clear errors, and the password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.sinks.dsn import ChdbConfig, ClickHouseServerConfig, DsnError, parse_dsn

pytestmark = pytest.mark.unit


def test_server_dsn_with_everything(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = parse_dsn(
        f"clickhouse://auditor:s3cr%40t@ch.example.com:9440/audit?secure=true&ca_certs={ca}&verify=false"
    )
    assert isinstance(cfg, ClickHouseServerConfig)
    assert (cfg.host, cfg.port, cfg.user, cfg.database) == ("ch.example.com", 9440, "auditor", "audit")
    assert cfg.password.get_secret_value() == "s3cr@t"
    assert (cfg.secure, cfg.verify, cfg.ca_certs) == (True, False, str(ca))


def test_server_dsn_defaults() -> None:
    cfg = parse_dsn("clickhouse://localhost")
    assert isinstance(cfg, ClickHouseServerConfig)
    assert (cfg.port, cfg.user, cfg.database, cfg.secure, cfg.verify) == (9000, "default", "dwf", False, True)
    assert cfg.password.get_secret_value() == ""
    secure = parse_dsn("clickhouse://localhost?secure=1")
    assert isinstance(secure, ClickHouseServerConfig) and secure.port == 9440
    assert isinstance(parse_dsn("clickhouses://h"), ClickHouseServerConfig)
    assert parse_dsn("clickhouses://h").port == 9440  # type: ignore[union-attr]


def test_password_never_in_repr_or_str() -> None:
    cfg = parse_dsn("clickhouse://writer:hunter2@db:9000/dwf")
    for text in (repr(cfg), str(cfg), cfg.redacted(), f"{cfg}"):
        assert "hunter2" not in text
    assert cfg.redacted() == "clickhouse://writer:***@db:9000/dwf"


def test_chdb_dsn_relative_absolute_and_database() -> None:
    assert parse_dsn("chdb://.dwf/audit") == ChdbConfig(path=Path(".dwf/audit"))
    assert parse_dsn("chdb:///var/lib/dwf") == ChdbConfig(path=Path("/var/lib/dwf"))
    cfg = parse_dsn("chdb://data?database=audit")
    assert isinstance(cfg, ChdbConfig) and cfg.database == "audit"


@pytest.mark.parametrize(
    ("dsn", "fragment"),
    [
        ("localhost:9000", "no scheme"),
        ("postgres://h/db", "unknown scheme 'postgres'"),
        ("clickhouse://", "no host"),
        ("clickhouse://h:notaport/db", "port"),
        ("clickhouse://h/db?sslmode=require", "unknown option 'sslmode'"),
        ("clickhouse://h/db?secure=maybe", "must be true or false"),
        ("clickhouse://h/db?ca_certs=/nope.pem", "TLS is off"),
        ("clickhouse://h/db?secure=true&ca_certs=/nope.pem", "does not exist"),
        ("clickhouse://h/db-name", "letters, digits and underscores"),
        ("clickhouse://h/a/b", "just the database name"),
        ("clickhouse://h/db?connect_timeout=-1", "positive"),
        ("chdb://", "no directory"),
    ],
)
def test_malformed_dsn_names_the_fix(dsn: str, fragment: str) -> None:
    with pytest.raises(DsnError, match="audit DSN") as err:
        parse_dsn(dsn)
    assert fragment in str(err.value)


def test_errors_mask_the_password() -> None:
    with pytest.raises(DsnError) as err:
        parse_dsn("clickhouse://u:hunter2@h/db?bogus=1")
    assert "hunter2" not in str(err.value)
    assert "***" in str(err.value)
