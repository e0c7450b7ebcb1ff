"""Audit DSNs, option by option: every server option's values and defaults, the exact errors (each naming
the DSN with its password masked, the part at fault and the fix), and the redacted forms.

Expected values come from sinks/dsn.py's documented contract (module docstring, DsnError: "the message names
the part and the fix (never the password)") and the ClickHouse defaults it states (port 9000, 9440 with TLS,
user default, database dwf, 10 s connect and 300 s send/receive timeouts, no compression).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.sinks.dsn import ChdbConfig, ClickHouseServerConfig, DsnError, parse_dsn

pytestmark = pytest.mark.unit


def _server(dsn: str) -> ClickHouseServerConfig:
    cfg = parse_dsn(dsn)
    assert isinstance(cfg, ClickHouseServerConfig)
    return cfg


def _error(dsn: str) -> str:
    with pytest.raises(DsnError) as err:
        parse_dsn(dsn)
    return str(err.value)


# -- values and defaults -------------------------------------------------------------------------------


def test_every_default_of_a_bare_server_dsn() -> None:
    cfg = _server("clickhouse://db.local")
    assert cfg == ClickHouseServerConfig(host="db.local")
    assert (cfg.host, cfg.port, cfg.user, cfg.database) == ("db.local", 9000, "default", "dwf")
    assert (cfg.secure, cfg.verify, cfg.ca_certs, cfg.compression) == (False, True, None, False)
    assert (cfg.connect_timeout, cfg.send_receive_timeout) == (10.0, 300.0)
    assert cfg.password.get_secret_value() == ""


def test_timeouts_and_compression_are_read_from_options() -> None:
    cfg = _server("clickhouse://h/db?connect_timeout=2.5&send_receive_timeout=60&compression=yes")
    assert (cfg.connect_timeout, cfg.send_receive_timeout, cfg.compression) == (2.5, 60.0, True)
    cfg = _server("clickhouse://h/db?connect_timeout=7")
    assert (cfg.connect_timeout, cfg.send_receive_timeout) == (7.0, 300.0)
    cfg = _server("clickhouse://h/db?send_receive_timeout=0.5")
    assert (cfg.connect_timeout, cfg.send_receive_timeout) == (10.0, 0.5)
    assert _server("clickhouse://h/db?compression=off").compression is False


@pytest.mark.parametrize(
    ("text", "value"),
    [(t, True) for t in ("1", "true", "YES", " On ")] + [(f, False) for f in ("0", "False", "no", "OFF")],
)
def test_flags_take_the_usual_spellings(text: str, value: bool) -> None:
    assert _server(f"clickhouse://h?verify={text}").verify is value
    assert _server(f"clickhouse://h?compression={text}").compression is value


def test_secure_option_and_scheme() -> None:
    assert _server("clickhouse://h?secure=false").secure is False
    assert _server("clickhouse://h?secure=false").port == 9000
    assert _server("clickhouses://h?secure=false").secure is True  # the scheme already asks for TLS
    assert _server("CLICKHOUSES://h").secure is True  # schemes are case-insensitive
    assert _server("clickhouse://h:1234?secure=true").port == 1234  # an explicit port wins
    assert _server("clickhouse://h:0").port == 0


def test_user_password_and_database_are_url_decoded() -> None:
    cfg = _server("clickhouse://a%20b:p%3Aw@h:9000/my_db")
    assert (cfg.user, cfg.password.get_secret_value(), cfg.database) == ("a b", "p:w", "my_db")
    assert _server("clickhouse://alice@h").user == "alice"
    assert _server("clickhouse://alice@h").password.get_secret_value() == ""
    assert _server("clickhouse://h/").database == "dwf"
    assert _server("clickhouse://h//").database == "dwf"


def test_ca_certs_with_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    assert _server(f"clickhouses://h?ca_certs={ca}").ca_certs == str(ca)
    assert _server("clickhouses://h?ca_certs=").ca_certs is None  # empty means none


def test_chdb_paths_are_url_decoded_and_take_a_database() -> None:
    assert parse_dsn("chdb://my%20dir/audit") == ChdbConfig(path=Path("my dir/audit"))
    assert parse_dsn("CHDB://d") == ChdbConfig(path=Path("d"), database="dwf")
    cfg = parse_dsn("chdb://d?database=_x1")
    assert cfg == ChdbConfig(path=Path("d"), database="_x1")


# -- redacted forms ------------------------------------------------------------------------------------


def test_redacted_server_dsn_masks_only_a_password_that_exists() -> None:
    assert _server("clickhouse://w:pw@db:9001/a").redacted() == "clickhouse://w:***@db:9001/a"
    assert _server("clickhouse://w@db/a").redacted() == "clickhouse://w@db:9000/a"
    assert str(_server("clickhouse://db")) == "clickhouse://default@db:9000/dwf"
    assert str(parse_dsn("chdb:///var/dwf")) == "chdb:///var/dwf"


# -- errors: exact texts -------------------------------------------------------------------------------


def test_no_scheme() -> None:
    assert _error("u:pw@h") == (
        "audit DSN 'u:pw@h' has no scheme; write it like "
        "clickhouse://user:password@host:9000/dwf or chdb://.dwf/audit"
    )


def test_unknown_scheme_masks_the_password() -> None:
    assert _error("postgres://u:secret@h/db") == (
        "audit DSN 'postgres://u:***@h/db': unknown scheme 'postgres'; use clickhouse:// or chdb:// "
        "(clickhouse://user:password@host:9000/dwf or chdb://.dwf/audit)"
    )


def test_a_dsn_without_password_is_shown_as_written() -> None:
    assert _error("clickhouse://u@h/db?x=1").startswith("audit DSN 'clickhouse://u@h/db?x=1': unknown option")


def test_an_unparsable_dsn_is_not_echoed() -> None:
    assert _error("clickhouse://[::1/db").startswith("audit DSN '<unparsable DSN>': ")


def test_a_bad_port_names_the_fix() -> None:
    message = _error("clickhouse://u:pw@h:port/db")
    assert message.startswith("audit DSN 'clickhouse://u:***@h:port/db': ")
    assert message.endswith("; the port must be a number, e.g. host:9000")
    assert "pw" not in message.replace("password", "")


def test_no_host() -> None:
    assert _error("clickhouse:///db") == (
        "audit DSN 'clickhouse:///db' has no host; write clickhouse://user:password@host:9000/dwf"
    )


def test_unknown_and_repeated_options() -> None:
    assert _error("clickhouse://h?tls=1") == (
        "audit DSN 'clickhouse://h?tls=1': unknown option 'tls'; allowed options: "
        "secure, verify, ca_certs, connect_timeout, send_receive_timeout, compression"
    )
    assert _error("clickhouse://h?secure=1&secure=0") == (
        "audit DSN 'clickhouse://h?secure=1&secure=0': option 'secure' is given 2 times; give it once"
    )
    assert _error("chdb://d?secure=1") == (
        "audit DSN 'chdb://d?secure=1': unknown option 'secure'; allowed options: database"
    )


def test_flag_and_number_errors() -> None:
    assert _error("clickhouse://h?verify=maybe") == (
        "audit DSN 'clickhouse://h?verify=maybe': option verify='maybe' must be true or false"
    )
    assert _error("clickhouse://h?compression=") == (
        "audit DSN 'clickhouse://h?compression=': option compression='' must be true or false"
    )
    assert _error("clickhouse://h?connect_timeout=soon") == (
        "audit DSN 'clickhouse://h?connect_timeout=soon': "
        "option connect_timeout='soon' must be a number of seconds"
    )
    assert _error("clickhouse://h?send_receive_timeout=0") == (
        "audit DSN 'clickhouse://h?send_receive_timeout=0': option send_receive_timeout must be positive"
    )
    assert _error("clickhouse://h?connect_timeout=-2") == (
        "audit DSN 'clickhouse://h?connect_timeout=-2': option connect_timeout must be positive"
    )


def test_ca_certs_errors(tmp_path: Path) -> None:
    assert _error("clickhouse://h?ca_certs=/x.pem") == (
        "audit DSN 'clickhouse://h?ca_certs=/x.pem': ca_certs is set but TLS is off; add secure=true"
    )
    missing = tmp_path / "none.pem"
    assert _error(f"clickhouses://h?ca_certs={missing}") == (
        f"audit DSN 'clickhouses://h?ca_certs={missing}': ca_certs file '{missing}' does not exist"
    )
    assert "does not exist" in _error(f"clickhouses://h?ca_certs={tmp_path}")  # a folder is not a file


def test_database_names() -> None:
    assert _error("clickhouse://h/9lives") == (
        "audit DSN 'clickhouse://h/9lives': database name '9lives' must be letters, digits and underscores "
        "(not starting with a digit)"
    )
    assert "database name 'a-b'" in _error("chdb://d?database=a-b")
    assert "database name 'a%b'" in _error("clickhouse://h/a%25b")  # decoded before the check
    assert _error("clickhouse://h/a/b") == (
        "audit DSN 'clickhouse://h/a/b': the path must be just the database name, e.g. /dwf"
    )
    assert _server("clickhouse://h/_9").database == "_9"


def test_chdb_without_directory() -> None:
    assert _error("chdb://?database=x") == (
        "audit DSN 'chdb://?database=x' has no directory; write chdb://.dwf/audit or chdb:///abs/dir"
    )


def test_secure_flag_errors_and_names_are_kept_whole() -> None:
    assert _error("clickhouse://u:pw@h?secure=maybe") == (
        "audit DSN 'clickhouse://u:***@h?secure=maybe': option secure='maybe' must be true or false"
    )
    assert _error("chdb://d?database=a-b") == (
        "audit DSN 'chdb://d?database=a-b': database name 'a-b' must be letters, digits and underscores "
        "(not starting with a digit)"
    )
    assert _server("clickhouse://h/XRAY_X").database == "XRAY_X"  # only slashes are stripped


def test_a_chdb_path_is_everything_after_the_first_scheme_separator() -> None:
    assert parse_dsn("chdb://dir/x://y") == ChdbConfig(path=Path("dir/x://y"))
