"""The registry mode: schemas in a Confluent-compatible schema registry, through confluent-kafka's client.

Any Confluent-compatible server works (Confluent Schema Registry, Karapace, Redpanda, Apicurio's ccompat
API): the worker registers each topic's schema and frames messages with the ids the registry hands out, so
Kafka Connect, ksqlDB, kafka-ui, Flink, ``kcat -s value=avro -r URL`` and any AvroDeserializer read them.

Subjects (docs/kafka.md, "Schema registry"): a typed topic's schema goes under ``<topic>-value``
(TopicNameStrategy); the runtime's own records that share a topic (``rejected``, ``dlq``, ``audit``) go under
their record's full name, ``dwf.MixedEnvelope`` / ``dwf.AuditBatch`` / ``dwf.AuditRow`` (RecordNameStrategy).

Every schema is checked against the subject's registered versions under the subject's compatibility level
(BACKWARD when the registry names none) before it is registered, so a worker refuses to start naming the
subject and the field. Ids and schemas are cached: after start a worker asks the registry only for ids it
has not seen (a foreign producer's schema), once each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import fastavro
import orjson
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from dana_workflows.core.masking import mask_text
from dana_workflows.core.settings import Settings
from dana_workflows.schemas.compatibility import compatibility_problems
from dana_workflows.schemas.registry import UnknownSchemaError

DEFAULT_COMPATIBILITY = "BACKWARD"
REGISTRY_SCHEMES = ("http://", "https://", "mock://")

_T = TypeVar("_T")


class RegistryError(ValueError):
    """The registry said no, or could not be asked; the message names the registry, subject and fix."""


class RegistryUnavailableError(RegistryError):
    """No answer from the registry (connection refused, timeout, TLS failure, 5xx)."""


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (HTTP 401 or 403)."""


class IncompatibleSchemaError(RegistryError):
    """A schema that breaks the subject's compatibility level; `problems` names each field."""

    def __init__(self, subject: str, level: str, problems: list[str]) -> None:
        lines = "\n  ".join(problems)
        super().__init__(
            f"schema for subject {subject} is not {level} compatible with the registered schema:\n  {lines}\n"
            "change the spec so the schemas stay compatible, or (knowing who reads the topic) change the "
            "subject's compatibility level in the registry"
        )
        self.subject = subject
        self.level = level
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SubjectCheck:
    """One subject's verdict: the level it was judged under, the registered versions, what would break."""

    subject: str
    level: str
    versions: int  # registered versions (0: a new subject)
    problems: list[str] = field(default_factory=list)
    already_registered: bool = False


def record_subject(schema: dict[str, Any]) -> str:
    """RecordNameStrategy: the record's full name (``dwf.MixedEnvelope``)."""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def client_config(settings: Settings) -> dict[str, Any]:
    """confluent-kafka's SchemaRegistryClient configuration from the DWF_SCHEMA_REGISTRY* settings."""
    conf: dict[str, Any] = {
        "url": settings.schema_registry_url(),
        "timeout": settings.schema_registry_timeout_s,
        "max.retries": settings.schema_registry_retries,
        "retries.wait.ms": 200,
        "retries.max.wait.ms": 2000,
    }
    if settings.schema_registry_username is not None:
        password = settings.schema_registry_password
        secret = password.get_secret_value() if password is not None else ""
        conf["basic.auth.user.info"] = f"{settings.schema_registry_username}:{secret}"
    if settings.schema_registry_token is not None:
        conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
        conf["bearer.auth.token"] = settings.schema_registry_token.get_secret_value()
        # Confluent Cloud routes by logical cluster; other registries ignore the header
        conf["bearer.auth.logical.cluster"] = settings.schema_registry_logical_cluster or ""
    for key, value in (
        ("ssl.ca.location", settings.schema_registry_ssl_cafile),
        ("ssl.certificate.location", settings.schema_registry_ssl_certfile),
        ("ssl.key.location", settings.schema_registry_ssl_keyfile),
    ):
        if value is not None:
            conf[key] = str(value)
    return conf


# mock:// is confluent-kafka's in-memory registry (its own test double); one per URL in a process, so a
# worker and a test's AvroSerializer built from the same URL share it, as two clients of one server would.
_MOCK_CLIENTS: dict[str, SchemaRegistryClient] = {}


def new_client(conf: dict[str, Any]) -> SchemaRegistryClient:
    url = str(conf["url"])
    if url.startswith("mock://"):
        if url not in _MOCK_CLIENTS:
            _MOCK_CLIENTS[url] = SchemaRegistryClient.new_client(conf)
        return _MOCK_CLIENTS[url]
    return SchemaRegistryClient(conf)


class ConfluentRegistry:
    """A Confluent-compatible registry behind the interface of schemas/registry.py's SchemaRegistry."""

    def __init__(self, client: SchemaRegistryClient, url: str) -> None:
        self.client = client
        self.url = mask_text(url)
        self._ids: dict[tuple[str, bytes], int] = {}  # (subject, schema text) -> id
        self._by_id: dict[int, dict[str, Any]] = {}
        self._parsed: dict[int, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ConfluentRegistry:
        conf = client_config(settings)
        try:
            client = new_client(conf)
        except (ValueError, TypeError, OSError) as exc:  # bad URL, unreadable certificate files
            raise RegistryError(
                f"schema registry {mask_text(conf['url'])}: {mask_text(str(exc))} "
                "(check DWF_SCHEMA_REGISTRY and DWF_SCHEMA_REGISTRY_SSL_*)"
            ) from None
        return cls(client, conf["url"])

    # -- the SchemaRegistry interface ---------------------------------------------------------------------
    def register(self, schema: dict[str, Any], subject: str | None = None) -> int:
        """The registry's id for `schema` under `subject` (None: its record name), registered if new.

        IncompatibleSchemaError when it breaks the subject's compatibility level (nothing is registered).
        """
        subject = subject or record_subject(schema)
        text = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        key = (subject, text)
        if key in self._ids:
            return self._ids[key]
        verdict = self.check(schema, subject)
        if verdict.problems:
            raise IncompatibleSchemaError(subject, verdict.level, verdict.problems)
        registered = Schema(text.decode(), "AVRO")
        what = f"registering subject {subject}"
        # int(): older confluent-kafka releases type register_schema as returning Any
        sid = int(self._call(what, lambda: self.client.register_schema(subject, registered)))
        self._ids[key] = sid
        self._by_id[sid] = schema
        return sid

    def lookup(self, sid: int) -> dict[str, Any]:
        cached = self._by_id.get(sid)
        if cached is not None:
            return cached
        try:
            found = self._call(f"looking up schema id {sid}", lambda: self.client.get_schema(sid))
        except RegistryError as exc:
            # read path: the record goes to dlq with this reason and its bytes; nothing is cached, so the
            # next record with this id asks again (the registry may be back)
            raise UnknownSchemaError(str(exc)) from None
        if found is None or (found.schema_type or "AVRO") != "AVRO" or found.schema_str is None:
            kind = "missing" if found is None else f"a {found.schema_type} schema"
            raise UnknownSchemaError(f"schema id {sid} in registry {self.url} is {kind}, not Avro")
        schema: dict[str, Any] = json.loads(found.schema_str)
        self._by_id[sid] = schema
        return schema

    def parsed(self, sid: int) -> Any:
        p = self._parsed.get(sid)
        if p is None:
            p = self._parsed[sid] = fastavro.parse_schema(self.lookup(sid))
        return p

    # -- compatibility ------------------------------------------------------------------------------------
    def check(self, schema: dict[str, Any], subject: str, level: str | None = None) -> SubjectCheck:
        """`schema` judged against `subject`'s registered versions under `level` (None: the subject's)."""
        versions = self._versions(subject)
        level = (level or self.compatibility(subject)).upper()
        registered: list[dict[str, Any]] = []
        latest_only = not level.endswith("_TRANSITIVE")
        for version in versions[-1:] if latest_only else versions:
            found = self._call(
                f"reading subject {subject} version {version}",
                lambda v=version: self.client.get_version(subject, v),  # type: ignore[misc]
            )
            text = found.schema.schema_str if found is not None and found.schema is not None else None
            if text is not None:
                registered.append(json.loads(text))
        already = any(_same(schema, old) for old in registered)
        problems = [] if already else compatibility_problems(schema, registered, level)
        return SubjectCheck(subject, level, len(versions), problems, already)

    def compatibility(self, subject: str) -> str:
        """The subject's level, else the registry's global one, else BACKWARD (the registries' default)."""
        for name in (subject, None):
            config = self._call(
                f"reading the compatibility of {name or 'the registry'}",
                lambda n=name: self.client.get_config(n),  # type: ignore[misc]
                missing_ok=True,
            )
            level = None if config is None else (config.compatibility_level or config.compatibility)
            if level is not None:
                return str(getattr(level, "value", level)).upper()
        return DEFAULT_COMPATIBILITY

    def _versions(self, subject: str) -> list[int]:
        found = self._call(
            f"listing the versions of subject {subject}",
            lambda: self.client.get_versions(subject),
            missing_ok=True,
        )
        return sorted(found or [])

    # -- errors -------------------------------------------------------------------------------------------
    def _call(self, doing: str, call: Callable[[], _T], *, missing_ok: bool = False) -> _T:
        """`call`, its failures turned into one line naming the registry, what was being done and the fix."""
        try:
            return call()
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            detail = mask_text(f"HTTP {status}, error {exc.error_code}: {exc.error_message}")
            if status == 404 and not _registry_not_found(exc.error_code):
                raise RegistryError(
                    f"schema registry {self.url} answered HTTP 404 with no registry error code while {doing} "
                    f"({detail}): is it a Confluent-compatible schema registry? Check DWF_SCHEMA_REGISTRY "
                    "(the URL of the registry itself, e.g. http://host:8081)"
                ) from None
            if status == 404 and missing_ok:
                return None  # type: ignore[return-value]
            if status in (401, 403):
                raise RegistryAuthError(
                    f"schema registry {self.url} refused the credentials while {doing} ({detail}): check "
                    "DWF_SCHEMA_REGISTRY_USERNAME / DWF_SCHEMA_REGISTRY_PASSWORD or DWF_SCHEMA_REGISTRY_TOKEN"
                ) from None
            if status == 409:
                raise RegistryError(
                    f"schema registry {self.url} rejected {doing} as incompatible ({detail})"
                ) from None
            if status >= 500 or status < 0:
                raise RegistryUnavailableError(self._down(doing, detail)) from None
            raise RegistryError(f"schema registry {self.url}: {doing} failed ({detail})") from None
        except Exception as exc:  # the client's HTTP transport: refused, timed out, TLS, DNS
            raise RegistryUnavailableError(self._down(doing, f"{type(exc).__name__}: {exc}")) from None

    def _down(self, doing: str, detail: str) -> str:
        return mask_text(
            f"schema registry {self.url} is unreachable while {doing} ({detail}): start it, or point "
            "DWF_SCHEMA_REGISTRY at a reachable registry (unset: the embedded file registry)"
        )


def _registry_not_found(error_code: object) -> bool:
    """A registry's own "not found" (40401 subject, 40402 version, 40403 schema, 40408 no compatibility
    set, ...): only such a 404 means "nothing registered yet". A web server that is no registry (a wrong
    port, a proxy path) answers 404 without one, and must not read as an empty registry."""
    return isinstance(error_code, int) and 40400 <= error_code < 40500


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """One schema, whatever the key order or whitespace the registry gave back."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)
