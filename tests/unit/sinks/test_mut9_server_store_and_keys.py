"""Two small contracts of the audit sinks, without a server:

- ServerAuditStore hands every setting of its DSN to clickhouse-driver's Client (host, port, user, the
  password in clear only there, TLS, timeouts, compression) and names itself ``dana-workflows``; the
  password stays a SecretStr everywhere else. Client is replaced by a recorder at its seam.
- The checkpoint signing key (sinks/checkpoint_keys.py): errors name the setting or file they came from and
  the fix, and a key of the wrong kind is named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import SecretStr

from dana_workflows.core.settings import Settings
from dana_workflows.sinks import clickhouse_server
from dana_workflows.sinks.checkpoint_keys import CheckpointKeyError, signing_key
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.dsn import parse_dsn

pytestmark = pytest.mark.unit


class RecordingClient:
    made: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        RecordingClient.made.append((args, kwargs))


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> type[RecordingClient]:
    monkeypatch.setattr(clickhouse_server, "Client", RecordingClient)
    monkeypatch.setattr(RecordingClient, "made", [])
    return RecordingClient


def test_every_dsn_setting_reaches_the_driver(client: type[RecordingClient], tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    dsn = (
        f"clickhouses://auditor:s3cr%40t@ch.example:9441/audit?verify=false&ca_certs={ca}"
        "&connect_timeout=3&send_receive_timeout=45&compression=true"
    )
    config = parse_dsn(dsn)
    store = ServerAuditStore.from_config(config)  # type: ignore[arg-type]
    assert (store.host, store.port, store.database, store.user) == ("ch.example", 9441, "audit", "auditor")
    [(args, kwargs)] = client.made
    assert args == ("ch.example",)
    assert kwargs == {
        "port": 9441,
        "user": "auditor",
        "password": "s3cr@t",
        "secure": True,
        "verify": False,
        "ca_certs": str(ca),
        "connect_timeout": 3.0,
        "send_receive_timeout": 45.0,
        "compression": True,
        "client_name": "dana-workflows",
    }
    assert ServerAuditStore.from_dsn(dsn).database == "audit"


def test_the_defaults_reach_the_driver(client: type[RecordingClient]) -> None:
    ServerAuditStore()
    ServerAuditStore(password=SecretStr("pw"))
    ServerAuditStore(password="plain")
    [(args, kwargs), (_, secret_kwargs), (_, plain_kwargs)] = client.made
    assert args == ("127.0.0.1",)
    assert kwargs == {
        "port": 9000,
        "user": "default",
        "password": "",
        "secure": False,
        "verify": True,
        "ca_certs": None,
        "connect_timeout": 10.0,
        "send_receive_timeout": 300.0,
        "compression": False,
        "client_name": "dana-workflows",
    }
    assert secret_kwargs["password"] == "pw"
    assert plain_kwargs["password"] == "plain"


# -- the signing key -----------------------------------------------------------------------------------


def _pem(key: Any) -> str:
    return str(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode())


HOW = "make one with `dana-wf audit checkpoint keygen --out KEY.pem`"


def test_a_signing_key_from_pem_text_and_its_errors() -> None:
    key = Ed25519PrivateKey.generate()
    loaded = signing_key(Settings(_env_file=None, audit_signing_key=SecretStr(_pem(key))))  # type: ignore[call-arg]
    assert loaded.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()

    with pytest.raises(CheckpointKeyError) as err:
        signing_key(Settings(_env_file=None, audit_signing_key=SecretStr("not pem")))  # type: ignore[call-arg]
    assert str(err.value).startswith("DWF_AUDIT_SIGNING_KEY: not an unencrypted PEM private key (")
    assert str(err.value).endswith(f"); {HOW}")

    ec = generate_private_key(SECP256R1())
    with pytest.raises(CheckpointKeyError) as err:
        signing_key(Settings(_env_file=None, audit_signing_key=SecretStr(_pem(ec))))  # type: ignore[call-arg]
    # the key's class is cryptography's (ECPrivateKey in its Rust backend): named, then the fix
    assert str(err.value).startswith("DWF_AUDIT_SIGNING_KEY: a ")
    assert str(err.value).endswith(f"PrivateKey, not an Ed25519 key; {HOW}")


def test_a_signing_key_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "none.pem"
    with pytest.raises(CheckpointKeyError) as err:
        signing_key(Settings(_env_file=None, audit_signing_key_file=missing))  # type: ignore[call-arg]
    assert (
        str(err.value) == f"DWF_AUDIT_SIGNING_KEY_FILE={missing}: cannot read it (No such file or directory)"
    )
    bad = tmp_path / "bad.pem"
    bad.write_text("junk")
    with pytest.raises(CheckpointKeyError) as err:
        signing_key(Settings(_env_file=None, audit_signing_key_file=bad))  # type: ignore[call-arg]
    assert str(err.value).startswith(
        f"DWF_AUDIT_SIGNING_KEY_FILE={bad}: not an unencrypted PEM private key ("
    )


def test_no_signing_key_names_both_settings() -> None:
    with pytest.raises(CheckpointKeyError) as err:
        signing_key(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (
        str(err.value) == f"no signing key: set DWF_AUDIT_SIGNING_KEY_FILE (or DWF_AUDIT_SIGNING_KEY); {HOW}"
    )
