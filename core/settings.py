"""One settings object for the whole engine: env vars ``DWF_*``, an optional config file.

Secrets are SecretStr so they are never printed by accident; `dana-wf config show` masks them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

REGISTRY_SCHEMES = ("file://", "http://", "https://", "mock://")
REGISTRY_URL_HINT = (
    "use file://<dir> (the embedded file registry; unset: file://<DWF_DATA_DIR>/schemas) or "
    "http(s)://<host>:<port> (a Confluent-compatible registry)"
)
# Kafka's legal topic characters: a prefix with any other is refused by the broker only when the worker, a
# minute into its start, creates its first internal topic
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_TOPIC_RULE = "topic names take only ASCII letters, digits, '.', '_' and '-'"


def check_topic_prefix(prefix: str, where: str) -> str:
    """The prefix, if Kafka takes it in a topic name; ValueError naming `where` (the option) otherwise."""
    if not _TOPIC_CHARS.fullmatch(prefix):
        raise ValueError(f"{where} {prefix!r}: {_TOPIC_RULE}")
    return prefix


def log_level_name(value: str, where: str) -> str:
    """A logging level's canonical name (WARN and FATAL accepted); ValueError naming `where` otherwise."""
    level = value.strip().upper()
    level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level not in LOG_LEVELS:
        raise ValueError(f"log level {value!r}: use one of {', '.join(LOG_LEVELS)} ({where})")
    return level


class LLMEndpoint(BaseModel):
    """One OpenAI-compatible endpoint and the limits its provider grants this worker."""

    base_url: str = "http://127.0.0.1:8765/v1"
    api_key: SecretStr = SecretStr("")
    model: str = "dwf-test-model"
    rpm: int | None = None
    tpm: int | None = None
    concurrency: int = 4
    timeout_s: float = 30.0
    # USD per 1M tokens: {"input": 0.15, "output": 0.6}
    price_per_mtok: dict[str, float] = Field(default_factory=dict)


RiskTier = Literal["minimal", "limited", "high"]  # the EU AI Act's tiers a deployed model may carry


class ModelRecord(BaseModel):
    """One entry of the model registry (docs/compliance.md): who answers for a model and how risky its use is.

    Matched against the audit's LLM rows by ``id`` (the model name the provider was asked for); a
    ``version`` (the model the provider says answered, e.g. a dated snapshot) must then match too."""

    model_config = {"extra": "forbid"}

    id: str = Field(min_length=1)
    version: str = ""
    provider: str = ""
    owner: str = Field(min_length=1)
    risk_tier: RiskTier


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DWF_",
        env_nested_delimiter="__",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,  # a refused value may be a secret or hold one (a URL's password)
    )

    # Kafka
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    topic_partitions: int = 4
    topic_replication: int = 1
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    topic_prefix: str = "dwf"
    # the step agents take fetched records in batches below faust's per-record delivery
    # (streams/kafka/intake.py); false keeps faust's delivery (the path before session 12: A/Bs, a fallback)
    kafka_intake: bool = True

    # Audit
    audit_dsn: str = "chdb://.dwf/audit"
    # Knowledge (docs/context.md): the store of synced sources the llm steps draw on
    knowledge_dsn: str = "chdb://.dwf/knowledge"
    audit_batch_size: int = 20_000
    audit_batch_interval_s: float = 1.0
    audit_buffer_max: int = 100_000
    # Fernet key for the sensitive fields of the recorded input (docs/audit.md); unset: they are withheld
    audit_input_key: SecretStr | None = None
    # Audit checkpoints (docs/audit.md): the Ed25519 signing key, PEM text or a file holding it
    audit_signing_key: SecretStr | None = None
    audit_signing_key_file: Path | None = None
    checkpoint_s3_endpoint: str | None = None  # an S3-compatible server's URL; unset: AWS
    checkpoint_retention_days: int = Field(default=2557, ge=1)  # Object Lock COMPLIANCE retention (7 years)

    # Schemas: unset (or empty) means the file registry under data_dir, see schema_registry_url();
    # http(s)://HOST:PORT: a Confluent-compatible registry (docs/kafka.md, "Schema registry")
    schema_registry: str | None = None
    schema_registry_username: str | None = None  # basic auth
    schema_registry_password: SecretStr | None = None
    schema_registry_token: SecretStr | None = None  # bearer auth (a static token)
    schema_registry_logical_cluster: str | None = None  # Confluent Cloud's cluster id for bearer auth
    schema_registry_ssl_cafile: str | None = None
    schema_registry_ssl_certfile: str | None = None  # client certificate (mutual TLS)
    schema_registry_ssl_keyfile: str | None = None
    schema_registry_timeout_s: float = 10.0
    schema_registry_retries: int = Field(default=2, ge=0)

    # LLM
    llm_default: LLMEndpoint = Field(default_factory=LLMEndpoint)
    llm_endpoints: dict[str, LLMEndpoint] = Field(default_factory=dict)  # by model alias
    llm_cache_path: Path = Path(".dwf/llm-cache")
    llm_store_prompts: Literal["store", "hash"] = "hash"
    # naive | optimised: overrides every llm step's efficiency mode (unset: the spec's); docs/efficiency.md
    llm_efficiency: Literal["naive", "optimised"] | None = None
    # The model registry (docs/compliance.md): owner and risk tier of every model the workflows may use
    models: list[ModelRecord] = Field(default_factory=list)

    # Runtime
    data_dir: Path = Path(".dwf")
    metrics_port: int = 9108
    log_level: str = "INFO"
    # Traces: an OTLP/HTTP endpoint (http://127.0.0.1:4318); unset, no traces (docs/observability.md)
    otlp_endpoint: str | None = None
    otlp_service_name: str = "dana-workflows"
    otlp_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # share of events traced

    config_file: Path | None = None

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        return log_level_name(value, "DWF_LOG_LEVEL")

    @field_validator("schema_registry")
    @classmethod
    def _registry_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(REGISTRY_SCHEMES):
            raise ValueError(REGISTRY_URL_HINT)  # the value itself may hold credentials: not repeated
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if not _TOPIC_CHARS.fullmatch(value):  # the error never repeats a setting's value (cli/config.py)
            raise ValueError(_TOPIC_RULE)
        return value

    def schema_registry_url(self) -> str:
        """The schema registry in use: DWF_SCHEMA_REGISTRY, else ``file://<data_dir>/schemas`` (so a
        read-only working directory is fine as long as data_dir is writable)."""
        return self.schema_registry or f"file://{self.data_dir / 'schemas'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from (lowest first) an optional YAML config file, DWF_* env vars, explicit overrides."""
    import os

    path = config_file or (Path(os.environ["DWF_CONFIG_FILE"]) if "DWF_CONFIG_FILE" in os.environ else None)
    base: dict[str, Any] = {}
    if path is not None:
        from ruamel.yaml import YAML

        loaded = YAML(typ="safe").load(path.read_text())
        base = dict(loaded or {})
        unknown = next(iter(_unknown_keys(base, Settings)), None)  # the first is named
        if unknown is not None:
            raise UnknownSettingError(f"{path}: {unknown}")
    env_only = Settings()
    merged = _deep_merge(_deep_merge(base, env_only.model_dump(exclude_unset=True)), overrides)
    return Settings(**merged)


class UnknownSettingError(ValueError):
    """A config file key that is no setting: a typo that would otherwise leave the default in force."""


def _not_a_setting(
    name: str, shown: str, prefix: str = "", fields: Iterable[str] = Settings.model_fields
) -> str:
    close = difflib.get_close_matches(name.lower(), list(fields), n=1)  # AUDIT_DSN: audit_dsn
    hint = (
        f"; did you mean {prefix}{close[0].upper() if prefix.startswith('DWF_') else close[0]}?"
        if close
        else ""
    )
    return f"{shown} is not a setting{hint} (docs/configuration.md lists them)"


def _unknown_keys(mapping: Mapping[Any, Any], model: type[BaseModel], where: str = "") -> Iterable[str]:
    """The config file's keys that are no setting, nested ones included (llm_default.modle would leave the
    default model in force as surely as a top-level typo); a list (models) is the model's own to check."""
    for key, value in mapping.items():
        field = model.model_fields.get(str(key))
        if field is None:
            yield _not_a_setting(str(key), f"{where}{key}", where, model.model_fields)
            continue
        if not isinstance(value, Mapping):
            continue
        nested, per_key = _nested(field.annotation)
        if nested is not None and not per_key:
            yield from _unknown_keys(value, nested, f"{where}{key}.")
        elif nested is not None:
            for name, entry in value.items():
                if isinstance(entry, Mapping):
                    yield from _unknown_keys(entry, nested, f"{where}{key}.{name}.")


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field is (llm_default), or holds one of per key (llm_endpoints: True)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) is dict:
        entry = get_args(annotation)[1]
        if isinstance(entry, type) and issubclass(entry, BaseModel):
            return entry, True
    return None, False


def _unknown_env_part(var: str, parts: list[str]) -> str | None:
    """The warning for a nested variable (DWF_LLM_DEFAULT__MODLE) whose part is no field of the model
    the parts before it lead to; None when every part is one (or leads into a dict's free keys)."""
    field, path, rest = Settings.model_fields[parts[0]], [parts[0]], parts[1:]
    while rest:
        nested, per_key = _nested(field.annotation)
        if nested is None:
            return None  # a scalar, or a dict's own keys (price_per_mtok__input)
        if per_key:
            path, rest = [*path, rest[0]], rest[1:]  # the entry's name (llm_endpoints__big)
            if not rest:
                return None
        if not rest[0]:
            return None  # DWF_LLM_DEFAULT__ with nothing after it sets nothing
        if rest[0] not in nested.model_fields:
            prefix = "DWF_" + "__".join(path).upper() + "__"
            return _not_a_setting(rest[0], var, prefix, nested.model_fields)
        field, path, rest = nested.model_fields[rest[0]], [*path, rest[0]], rest[1:]
    return None


def misspelt_env_settings(environ: Mapping[str, str] | None = None) -> Iterable[str]:
    """A warning for each DWF_* variable that is no setting but close to one (DWF_AUDIT_DNS): the engine
    ignores it and runs on the default. Variables far from every setting (DWF_CONFIG_FILE, the tests' and
    the launchers' own) are not named."""
    env = os.environ if environ is None else environ
    for var in sorted(env):
        if not var.upper().startswith("DWF_"):
            continue
        parts = var[4:].lower().split("__")
        if parts[0] in Settings.model_fields:
            nested = _unknown_env_part(var, parts)  # every part under a setting is its own: any other a typo
            if nested is not None:
                yield nested
        elif difflib.get_close_matches(parts[0], Settings.model_fields, n=1, cutoff=0.85):
            yield _not_a_setting(parts[0], var, prefix="DWF_")


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """b over a, key by key inside nested mappings (an env var for one LLM field keeps the others)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
