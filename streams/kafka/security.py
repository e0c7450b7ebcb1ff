"""How every Kafka client of the engine authenticates: one mapping from the DWF_KAFKA_* settings.

``KafkaSecurity.from_settings`` checks the combination once (a clear error naming the DWF_* variable and
the fix), then gives what each client library wants:

- ``faust_credentials()`` for ``faust.App(broker_credentials=...)`` (the worker's consumers and producers),
- ``aiokafka_kwargs()`` for ``AIOKafkaAdminClient`` / ``AIOKafkaConsumer`` / ``AIOKafkaProducer``.

The SASL password stays a ``SecretStr`` here; it is unwrapped only into the dict handed to aiokafka and
into faust's ``SASLCredentials`` (whose repr shows the username only), never into a repr or a log line.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from dana_workflows.core.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# GSSAPI (Kerberos) and OAUTHBEARER need settings this engine does not have (keytabs, token providers)
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_MECHANISM = "PLAIN"


class KafkaSecurityError(ValueError):
    """The DWF_KAFKA_* security settings do not fit together; the message names the variable to fix."""


@dataclass(frozen=True)
class KafkaSecurity:
    """The checked security settings of the Kafka clients. The default is PLAINTEXT (no TLS, no SASL)."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    cafile: str | None = None

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=(settings.kafka_sasl_mechanism or "").strip().upper() or None,
            username=settings.kafka_sasl_username or None,
            password=settings.kafka_sasl_password,
            cafile=settings.kafka_ssl_cafile or None,
        )

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context (hostname checked) trusting ``cafile``, else the system CAs; None: no TLS."""
        if not self.tls:
            return None
        from aiokafka.helpers import create_ssl_context

        try:
            context: ssl.SSLContext = create_ssl_context(cafile=self.cafile)
        except (ssl.SSLError, OSError) as exc:
            raise KafkaSecurityError(
                f"DWF_KAFKA_SSL_CAFILE={self.cafile}: not a usable CA bundle ({exc}); "
                "point it at the PEM file of the CA that signed the brokers' certificates"
            ) from None
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (admin, consumer, producer)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.sasl:
            assert self.password is not None  # checked in __post_init__
            kwargs["sasl_mechanism"] = self.mechanism or DEFAULT_MECHANISM
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password.get_secret_value()
        return kwargs

    def faust_credentials(self) -> CredentialsT | None:
        """``broker_credentials`` for ``faust.App``: None for PLAINTEXT."""
        if self.protocol == "PLAINTEXT":
            return None
        from faust.auth import SASLCredentials, SSLCredentials

        context = self.ssl_context()
        if not self.sasl:
            return SSLCredentials(context)
        assert self.password is not None
        # faust picks SASL_SSL when given a context, SASL_PLAINTEXT without one
        return SASLCredentials(
            username=self.username,
            password=self.password.get_secret_value(),
            ssl_context=context,
            mechanism=self.mechanism or DEFAULT_MECHANISM,
        )

    def describe(self) -> str:
        """One line for logs, without the password."""
        parts = [self.protocol]
        if self.sasl:
            parts.append(f"{self.mechanism or DEFAULT_MECHANISM} as {self.username}")
        if self.tls:
            parts.append(f"CA {self.cafile or 'system'}")
        return ", ".join(parts)


def _check(s: KafkaSecurity) -> None:
    if s.protocol not in PROTOCOLS:
        raise KafkaSecurityError(
            f"DWF_KAFKA_SECURITY_PROTOCOL={s.protocol}: use one of {', '.join(PROTOCOLS)}"
        )
    if s.sasl:
        if s.mechanism is not None and s.mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"DWF_KAFKA_SASL_MECHANISM={s.mechanism} is not supported: use one of {', '.join(MECHANISMS)}"
            )
        missing = [
            name
            for name, value in (
                ("DWF_KAFKA_SASL_USERNAME", s.username),
                ("DWF_KAFKA_SASL_PASSWORD", s.password.get_secret_value() if s.password else None),
            )
            if not value
        ]
        if missing:
            raise KafkaSecurityError(
                f"DWF_KAFKA_SECURITY_PROTOCOL={s.protocol} needs {' and '.join(missing)}: set "
                f"{'them' if len(missing) > 1 else 'it'} (in Helm: settings.kafka_sasl_username and "
                "secrets.kafkaSaslPassword), or use PLAINTEXT/SSL if the brokers do not ask for SASL"
            )
    else:
        stray = [
            name
            for name, value in (
                ("DWF_KAFKA_SASL_MECHANISM", s.mechanism),
                ("DWF_KAFKA_SASL_USERNAME", s.username),
                ("DWF_KAFKA_SASL_PASSWORD", s.password.get_secret_value() if s.password else None),
            )
            if value
        ]
        if stray:
            raise KafkaSecurityError(
                f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
                f"DWF_KAFKA_SECURITY_PROTOCOL={s.protocol} does not use SASL: set "
                "DWF_KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
    if s.cafile is not None:
        if not s.tls:
            raise KafkaSecurityError(
                f"DWF_KAFKA_SSL_CAFILE is set but DWF_KAFKA_SECURITY_PROTOCOL={s.protocol} does not use "
                "TLS: set DWF_KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL), or unset DWF_KAFKA_SSL_CAFILE"
            )
        if not os.path.isfile(s.cafile):
            raise KafkaSecurityError(
                f"DWF_KAFKA_SSL_CAFILE={s.cafile}: no such file; mount the brokers' CA bundle (PEM) there "
                "(in Helm: kafkaTls.caSecret) or fix the path"
            )
        if not os.access(s.cafile, os.R_OK):
            raise KafkaSecurityError(f"DWF_KAFKA_SSL_CAFILE={s.cafile}: not readable by this user")
        s.ssl_context()  # a file that is not a PEM CA bundle fails now, not at the first connection


def client_security(settings: Settings | None = None) -> KafkaSecurity:
    """The checked security of this process's Kafka clients: from ``settings``, else from DWF_* / the config
    file (for callers that only know a bootstrap address)."""
    if settings is None:
        from dana_workflows.core.settings import load_settings

        settings = load_settings()
    return KafkaSecurity.from_settings(settings)
