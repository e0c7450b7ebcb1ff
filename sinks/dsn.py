"""One DSN picks and configures the audit store.

``clickhouse://user:password@host:9000/database?secure=true&ca_certs=/path/ca.pem&verify=false`` is a
ClickHouse server over the native protocol (``clickhouses://`` implies secure=true); ``chdb://PATH`` is the
embedded store in a local directory. The password is a SecretStr: repr() and str() of a config never print it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_DATABASE = "dwf"
_EXAMPLES = "clickhouse://user:password@host:9000/dwf or chdb://.dwf/audit"
_SERVER_OPTIONS = ("secure", "verify", "ca_certs", "connect_timeout", "send_receive_timeout", "compression")
_CHDB_OPTIONS = ("database",)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class DsnError(ValueError):
    """A DSN the user wrote cannot be used; the message names the part and the fix (never the password)."""


class ClickHouseServerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["clickhouse"] = "clickhouse"
    host: str
    port: int = 9000
    user: str = "default"
    password: SecretStr = SecretStr("")
    database: str = DEFAULT_DATABASE
    secure: bool = False
    verify: bool = True
    ca_certs: str | None = None
    connect_timeout: float = 10.0
    send_receive_timeout: float = 300.0
    compression: bool = False

    def redacted(self) -> str:
        """The DSN with the password masked: safe for logs and error messages."""
        auth = self.user + (":***" if self.password.get_secret_value() else "")
        return f"clickhouse://{auth}@{self.host}:{self.port}/{self.database}"

    def __str__(self) -> str:
        return self.redacted()


class ChdbConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["chdb"] = "chdb"
    path: Path
    database: str = DEFAULT_DATABASE

    def redacted(self) -> str:
        return f"chdb://{self.path}"

    def __str__(self) -> str:
        return self.redacted()


StoreConfig = ClickHouseServerConfig | ChdbConfig


def _flag(name: str, value: str, dsn: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise DsnError(f"audit DSN {dsn!r}: option {name}={value!r} must be true or false")


def _number(name: str, value: str, dsn: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise DsnError(f"audit DSN {dsn!r}: option {name}={value!r} must be a number of seconds") from None
    if out <= 0:
        raise DsnError(f"audit DSN {dsn!r}: option {name} must be positive")
    return out


def _options(query: str, allowed: tuple[str, ...], shown: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in allowed:
            raise DsnError(
                f"audit DSN {shown!r}: unknown option {key!r}; allowed options: {', '.join(allowed)}"
            )
        if len(values) != 1:
            raise DsnError(f"audit DSN {shown!r}: option {key!r} is given {len(values)} times; give it once")
        opts[key] = values[0]
    return opts


def _check_identifier(name: str, shown: str) -> str:
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise DsnError(
            f"audit DSN {shown!r}: database name {name!r} must be letters, digits and underscores "
            "(not starting with a digit)"
        )
    return name


def _mask(dsn: str) -> str:
    """The DSN as the user wrote it, password replaced, for error messages."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<unparsable DSN>"
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse_dsn(dsn: str) -> StoreConfig:
    """Parse an audit DSN into a typed config; DsnError names the problem and the fix."""
    shown = _mask(dsn)
    scheme, sep, _ = dsn.partition("://")
    if not sep:
        raise DsnError(f"audit DSN {shown!r} has no scheme; write it like {_EXAMPLES}")
    scheme = scheme.lower()
    if scheme == "chdb":
        return _parse_chdb(dsn, shown)
    if scheme in ("clickhouse", "clickhouses"):
        return _parse_server(dsn, shown, secure_scheme=scheme == "clickhouses")
    raise DsnError(
        f"audit DSN {shown!r}: unknown scheme {scheme!r}; use clickhouse:// or chdb:// ({_EXAMPLES})"
    )


def _parse_chdb(dsn: str, shown: str) -> ChdbConfig:
    rest = dsn.split("://", 1)[1]
    raw_path, _, query = rest.partition("?")
    if not raw_path:
        raise DsnError(f"audit DSN {shown!r} has no directory; write chdb://.dwf/audit or chdb:///abs/dir")
    opts = _options(query, _CHDB_OPTIONS, shown)
    database = _check_identifier(opts.get("database", DEFAULT_DATABASE), shown)
    return ChdbConfig(path=Path(unquote(raw_path)), database=database)


def _parse_server(dsn: str, shown: str, secure_scheme: bool) -> ClickHouseServerConfig:
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise DsnError(f"audit DSN {shown!r}: {exc}; the port must be a number, e.g. host:9000") from None
    if not parts.hostname:
        raise DsnError(f"audit DSN {shown!r} has no host; write clickhouse://user:password@host:9000/dwf")
    opts = _options(parts.query, _SERVER_OPTIONS, shown)
    secure = secure_scheme
    if "secure" in opts:
        secure = secure or _flag("secure", opts["secure"], shown)
    verify = _flag("verify", opts["verify"], shown) if "verify" in opts else True
    ca_certs = opts.get("ca_certs") or None
    if ca_certs and not secure:
        raise DsnError(f"audit DSN {shown!r}: ca_certs is set but TLS is off; add secure=true")
    if ca_certs and not Path(ca_certs).is_file():
        raise DsnError(f"audit DSN {shown!r}: ca_certs file {ca_certs!r} does not exist")
    path = parts.path.strip("/")
    if "/" in path:
        raise DsnError(f"audit DSN {shown!r}: the path must be just the database name, e.g. /dwf")
    database = _check_identifier(unquote(path), shown) if path else DEFAULT_DATABASE
    return ClickHouseServerConfig(
        host=parts.hostname,
        port=port if port is not None else (9440 if secure else 9000),
        user=unquote(parts.username) if parts.username else "default",
        password=SecretStr(unquote(parts.password) if parts.password else ""),
        database=database,
        secure=secure,
        verify=verify,
        ca_certs=ca_certs,
        connect_timeout=_number("connect_timeout", opts["connect_timeout"], shown)
        if "connect_timeout" in opts
        else 10.0,
        send_receive_timeout=_number("send_receive_timeout", opts["send_receive_timeout"], shown)
        if "send_receive_timeout" in opts
        else 300.0,
        compression=_flag("compression", opts["compression"], shown) if "compression" in opts else False,
    )
