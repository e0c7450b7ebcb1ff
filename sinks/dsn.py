"""One DSN picks and configures a store (the audit log's, or the knowledge store's).

``clickhouse://user:password@host:9000/database?secure=true&ca_certs=/path/ca.pem&verify=false`` is a
ClickHouse server over the native protocol (``clickhouses://`` implies secure=true); ``chdb://PATH`` is the
embedded store in a local directory. The password is a SecretStr: repr() and str() of a config never print it.
Errors name the store the DSN is for and that store's own chdb example directory: chdb serves one directory
per process, so the knowledge store's example must not send a user to the audit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from dana_workflows.core.settings import Settings

DEFAULT_DATABASE = "dwf"
# the audit store's embedded example is its default directory: the settings' default is its one home
_AUDIT_CHDB_EXAMPLE: str = Settings.model_fields["audit_dsn"].default
_SERVER_EXAMPLE = "clickhouse://user:password@host:9000/dwf"
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


@dataclass(frozen=True)
class _Words:
    """How one DSN's errors begin and which examples they give."""

    store: str
    shown: str
    chdb_example: str

    def error(self, rest: str) -> DsnError:
        return DsnError(f"{self.store} DSN {self.shown!r}{rest}")

    @property
    def examples(self) -> str:
        return f"{_SERVER_EXAMPLE} or {self.chdb_example}"


def _flag(name: str, value: str, words: _Words) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise words.error(f": option {name}={value!r} must be true or false")


def _number(name: str, value: str, words: _Words) -> float:
    try:
        out = float(value)
    except ValueError:
        raise words.error(f": option {name}={value!r} must be a number of seconds") from None
    if out <= 0:
        raise words.error(f": option {name} must be positive")
    return out


def _options(query: str, allowed: tuple[str, ...], words: _Words) -> dict[str, str]:
    opts: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in allowed:
            raise words.error(f": unknown option {key!r}; allowed options: {', '.join(allowed)}")
        if len(values) != 1:
            raise words.error(f": option {key!r} is given {len(values)} times; give it once")
        opts[key] = values[0]
    return opts


def _check_identifier(name: str, words: _Words) -> str:
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise words.error(
            f": database name {name!r} must be letters, digits and underscores (not starting with a digit)"
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


def parse_dsn(dsn: str, *, store: str = "audit", chdb_example: str = _AUDIT_CHDB_EXAMPLE) -> StoreConfig:
    """Parse a store's DSN into a typed config; DsnError names the store (``store``), the problem and the fix,
    giving ``chdb_example`` as the embedded store's example."""
    words = _Words(store, _mask(dsn), chdb_example)
    scheme, sep, _ = dsn.partition("://")
    if not sep:
        raise words.error(f" has no scheme; write it like {words.examples}")
    scheme = scheme.lower()
    if scheme == "chdb":
        return _parse_chdb(dsn, words)
    if scheme in ("clickhouse", "clickhouses"):
        return _parse_server(dsn, words, secure_scheme=scheme == "clickhouses")
    raise words.error(f": unknown scheme {scheme!r}; use clickhouse:// or chdb:// ({words.examples})")


def _parse_chdb(dsn: str, words: _Words) -> ChdbConfig:
    rest = dsn.split("://", 1)[1]
    raw_path, _, query = rest.partition("?")
    if not raw_path:
        raise words.error(f" has no directory; write {words.chdb_example} or chdb:///abs/dir")
    opts = _options(query, _CHDB_OPTIONS, words)
    database = _check_identifier(opts.get("database", DEFAULT_DATABASE), words)
    return ChdbConfig(path=Path(unquote(raw_path)), database=database)


def _parse_server(dsn: str, words: _Words, secure_scheme: bool) -> ClickHouseServerConfig:
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise words.error(f": {exc}; the port must be a number, e.g. host:9000") from None
    if not parts.hostname:
        raise words.error(f" has no host; write {_SERVER_EXAMPLE}")
    opts = _options(parts.query, _SERVER_OPTIONS, words)
    secure = secure_scheme
    if "secure" in opts:
        secure = secure or _flag("secure", opts["secure"], words)
    verify = _flag("verify", opts["verify"], words) if "verify" in opts else True
    ca_certs = opts.get("ca_certs") or None
    if ca_certs and not secure:
        raise words.error(": ca_certs is set but TLS is off; add secure=true")
    if ca_certs and not Path(ca_certs).is_file():
        raise words.error(f": ca_certs file {ca_certs!r} does not exist")
    path = parts.path.strip("/")
    if "/" in path:
        raise words.error(": the path must be just the database name, e.g. /dwf")
    database = _check_identifier(unquote(path), words) if path else DEFAULT_DATABASE
    return ClickHouseServerConfig(
        host=parts.hostname,
        port=port if port is not None else (9440 if secure else 9000),
        user=unquote(parts.username) if parts.username else "default",
        password=SecretStr(unquote(parts.password) if parts.password else ""),
        database=database,
        secure=secure,
        verify=verify,
        ca_certs=ca_certs,
        connect_timeout=_number("connect_timeout", opts["connect_timeout"], words)
        if "connect_timeout" in opts
        else 10.0,
        send_receive_timeout=_number("send_receive_timeout", opts["send_receive_timeout"], words)
        if "send_receive_timeout" in opts
        else 300.0,
        compression=_flag("compression", opts["compression"], words) if "compression" in opts else False,
    )
