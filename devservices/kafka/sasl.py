"""The launcher's SASL listeners: users given on the command line, PLAIN in the listener's JAAS config,
SCRAM users written into the KRaft metadata when the storage is formatted."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from dana_workflows.devservices.kafka.errors import KafkaLauncherError

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SASL_NAME = re.compile(r"[A-Za-z0-9._-]+")
# printable ASCII but no space, quote, backslash (JAAS and properties escapes), comma or bracket (--add-scram)
_SASL_PASSWORD = re.compile(r"[\x21\x23-\x2b\x2d-\x5a\x5e-\x7e]+")


def parse_sasl_users(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"alice:pw1,bob:pw2"`` (or a mapping) as ``{user: password}``, checked for what the broker config and
    the SCRAM bootstrap can carry: names of letters, digits, ``._-``; passwords of printable ASCII without
    spaces, quotes, backslashes, commas or brackets (a password may hold ``:`` and ``=``)."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        users: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, password = item.partition(":")
            if not sep:
                raise KafkaLauncherError(
                    f"SASL user {name!r} has no password: give users as user:password[,user2:password2]"
                )
            if name in users:
                raise KafkaLauncherError(f"SASL user {name!r} is given twice")
            users[name] = password
    else:
        users = dict(spec)
    if not users:
        raise KafkaLauncherError("no SASL users given: use user:password[,user2:password2]")
    for name, password in users.items():
        if not _SASL_NAME.fullmatch(name):
            raise KafkaLauncherError(f"SASL user name {name!r}: use letters, digits, '.', '_' and '-' only")
        if not _SASL_PASSWORD.fullmatch(password):
            raise KafkaLauncherError(
                f"the password of SASL user {name!r} is empty or holds a character the broker config "
                "cannot carry (space, quote, backslash, comma, [ or ], or non-ASCII): choose another"
            )
    return users


def sasl_properties(listeners: Iterable[str], users: Mapping[str, str]) -> dict[str, str]:
    """The SASL listeners' own settings (``listeners``: SASL_PLAINTEXT and/or SASL_SSL): PLAIN users inline
    in each listener's JAAS config (no JAAS file); SCRAM users live in the KRaft metadata, written when the
    storage is formatted (``--add-scram``)."""
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    props = {"sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS)}
    for listener in listeners:
        prefix = f"listener.name.{listener.lower()}"
        props[f"{prefix}.plain.sasl.jaas.config"] = (
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
        )
        props[f"{prefix}.scram-sha-256.sasl.jaas.config"] = scram
        props[f"{prefix}.scram-sha-512.sasl.jaas.config"] = scram
    return props


def scram_fingerprint(users: Mapping[str, str]) -> str:
    text = "\n".join(f"{name}:{users[name]}" for name in sorted(users))
    return hashlib.sha256(text.encode()).hexdigest()
