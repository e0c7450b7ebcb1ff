"""A real TLS connection: DWF_KAFKA_SECURITY_PROTOCOL=SSL / SASL_SSL and DWF_KAFKA_SSL_CAFILE against a
broker that serves a certificate.

One broker for the module, started by the launcher with an SSL listener and a SASL_SSL one
(``up(ssl_port=..., sasl_ssl_port=..., sasl_users=...)``) beside its PLAINTEXT one. The launcher made a CA
and a broker certificate for 127.0.0.1/localhost in the data dir; the engine's clients (aiokafka
admin/producer/consumer from ``client_security()``, the topic admin, ``produce_lines`` and a real
``dana-wf worker`` through faust's ``broker_credentials``) trust that CA through DWF_KAFKA_SSL_CAFILE.
Another CA, or the system CAs, are refused with a message naming the settings. The PLAINTEXT listener of
the same broker is used only to read results back.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from dana_workflows.devservices.kafka import broker
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.admin import BrokerUnavailableError, ensure_topics
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.security import client_security
from dana_workflows.streams.topology import Topology
from tests.fixtures.kafka import start_launcher_broker
from tests.integration.kafka_support import (
    CLAIMS_SPEC,
    claims_lines,
    create_produce_consume,
    start_worker,
    stop_worker,
    topic_listed,
    wait_for_outcomes,
)

pytestmark = pytest.mark.integration

USERS = {"dwf": "dwf-Tls=secret:1"}
WRONG = "not-the-password-7"
SECURITY_VARS = (
    "DWF_KAFKA_SECURITY_PROTOCOL",
    "DWF_KAFKA_SSL_CAFILE",
    "DWF_KAFKA_SASL_MECHANISM",
    "DWF_KAFKA_SASL_USERNAME",
    "DWF_KAFKA_SASL_PASSWORD",
)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[broker.BrokerInfo]:
    """One launcher broker with SSL and SASL_SSL listeners for the whole module, stopped at its end."""
    data_dir = tmp_path_factory.mktemp("kafka-tls")
    info = start_launcher_broker(
        data_dir,
        "the launcher could not start a broker with TLS listeners",
        listeners=("ssl_port", "sasl_ssl_port"),
        wait_s=120,
        sasl_users=USERS,
    )
    try:
        yield info
    finally:
        broker.down(data_dir)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CA file of another, unrelated self-signed CA (made the same way, so only trust differs)."""
    return broker.ensure_tls(tmp_path_factory.mktemp("other-ca") / "tls").cafile


@pytest.fixture(autouse=True)
def _no_inherited_security(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECURITY_VARS:
        monkeypatch.delenv(name, raising=False)


def _use_tls(monkeypatch: pytest.MonkeyPatch, cafile: str | Path | None) -> None:
    """The DWF_* settings as a deployment sets them (read by core.settings via client_security())."""
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SSL")
    if cafile is not None:
        monkeypatch.setenv("DWF_KAFKA_SSL_CAFILE", str(cafile))


def _use_sasl_ssl(monkeypatch: pytest.MonkeyPatch, cafile: str, mechanism: str, password: str) -> None:
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DWF_KAFKA_SSL_CAFILE", cafile)
    monkeypatch.setenv("DWF_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("DWF_KAFKA_SASL_USERNAME", "dwf")
    monkeypatch.setenv("DWF_KAFKA_SASL_PASSWORD", password)


def _handshake(port: int, cafile: Path, server_hostname: str) -> dict[str, object]:
    """A bare TLS handshake with Python's default (hostname-checking) client context; the peer cert."""
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection((broker.HOST, port), timeout=15) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        return dict(tls.getpeercert() or {})


def test_state_names_the_tls_listeners_and_the_ca(tls_broker: broker.BrokerInfo) -> None:
    assert tls_broker.ssl_bootstrap == f"127.0.0.1:{tls_broker.ssl_port}"
    assert tls_broker.sasl_ssl_bootstrap == f"127.0.0.1:{tls_broker.sasl_ssl_port}"
    assert tls_broker.sasl_port is None and tls_broker.sasl_users == ("dwf",)
    assert tls_broker.ssl_cafile is not None
    cafile = Path(tls_broker.ssl_cafile)
    assert cafile == Path(tls_broker.data_dir) / "tls" / "ca.pem"
    assert cafile.read_text().startswith("-----BEGIN CERTIFICATE-----")
    tls_dir = cafile.parent
    assert not (tls_dir / "ca.p12").exists()  # the CA's key is gone once it signed the broker certificate
    password = (tls_dir / "keystore.pass").read_text().strip()
    assert (tls_dir / "keystore.pass").stat().st_mode & 0o077 == 0
    state = (Path(tls_broker.data_dir) / "broker.json").read_text()
    log = Path(tls_broker.log_file).read_text(errors="replace")
    for secret in (password, *USERS.values()):
        assert secret not in state and secret not in log
    assert broker._read_state(Path(tls_broker.data_dir)) == tls_broker
    assert broker.status(tls_broker.data_dir).running


def test_the_certificate_names_loopback_and_only_its_ca_trusts_it(
    tls_broker: broker.BrokerInfo, other_ca: Path
) -> None:
    assert tls_broker.ssl_port is not None and tls_broker.ssl_cafile is not None
    cafile = Path(tls_broker.ssl_cafile)
    for name in ("127.0.0.1", "localhost"):
        cert = _handshake(tls_broker.ssl_port, cafile, name)
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]  # type: ignore[operator]
        assert ("DNS", "localhost") in cert["subjectAltName"]  # type: ignore[operator]
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
        _handshake(tls_broker.ssl_port, cafile, "example.com")
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(tls_broker.ssl_port, other_ca, "127.0.0.1")
    # the launcher reuses what it made: a second call gives the same CA
    assert broker.ensure_tls(cafile.parent).cafile.read_text() == cafile.read_text()


async def test_clients_trust_the_ca_and_create_produce_and_consume(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_broker.ssl_bootstrap is not None
    _use_tls(monkeypatch, tls_broker.ssl_cafile)
    kwargs = client_security().aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SSL" and isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].check_hostname
    topic = f"dwf-tls-{uuid.uuid4().hex[:8]}"
    got = await create_produce_consume(tls_broker.ssl_bootstrap, topic, b"over-tls")
    assert got == [(b"k", b"over-tls")]


async def test_topic_admin_uses_tls_from_the_environment(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ensure_topics with a bootstrap address only (as the worker calls it) uses the DWF_* TLS settings."""
    _use_tls(monkeypatch, tls_broker.ssl_cafile)
    topic = f"dwf-tls-env-{uuid.uuid4().hex[:8]}"
    assert tls_broker.ssl_bootstrap is not None
    await ensure_topics(tls_broker.ssl_bootstrap, [topic], 2, 1, timeout_s=20)
    admin = AIOKafkaAdminClient(bootstrap_servers=tls_broker.bootstrap)  # the PLAINTEXT listener
    await admin.start()
    try:
        assert await topic_listed(admin, topic)
    finally:
        await admin.close()


@pytest.mark.parametrize("trust", ["another CA", "system CAs"])
async def test_an_untrusted_certificate_fails_with_a_message_naming_the_ca_setting(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, other_ca: Path, trust: str
) -> None:
    cafile = other_ca if trust == "another CA" else None
    _use_tls(monkeypatch, cafile)
    bootstrap = tls_broker.ssl_bootstrap
    assert bootstrap is not None
    with pytest.raises(BrokerUnavailableError) as info:
        await ensure_topics(bootstrap, ["dwf-tls-never"], 1, 1, timeout_s=15)
    message = str(info.value)
    assert f"cannot connect to Kafka at {bootstrap} with SSL, CA {cafile or 'system'}" in message
    assert "DWF_KAFKA_SSL_CAFILE" in message and "DWF_KAFKA_SECURITY_PROTOCOL" in message

    # the raw clients see the failed handshake as a failed bootstrap, not a hang
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_security().aiokafka_kwargs())
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_a_plaintext_client_gets_nothing_from_the_tls_listener(tls_broker: broker.BrokerInfo) -> None:
    assert tls_broker.ssl_bootstrap is not None
    with pytest.raises(BrokerUnavailableError, match="no Kafka broker answers"):
        await ensure_topics(tls_broker.ssl_bootstrap, ["dwf-tls-never"], 1, 1, timeout_s=10)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_sasl_ssl_login(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, mechanism: str
) -> None:
    """SASL over TLS: the launcher's SASL_SSL listener takes the same users (PLAIN inline, SCRAM from the
    storage format), the client trusting the launcher's CA."""
    assert tls_broker.sasl_ssl_bootstrap is not None and tls_broker.ssl_cafile is not None
    _use_sasl_ssl(monkeypatch, tls_broker.ssl_cafile, mechanism, USERS["dwf"])
    kwargs = client_security().aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == mechanism
    topic = f"dwf-sasl-ssl-{mechanism.lower()}-{uuid.uuid4().hex[:8]}"
    got = await create_produce_consume(tls_broker.sasl_ssl_bootstrap, topic, b"over-sasl-ssl")
    assert got == [(b"k", b"over-sasl-ssl")]


async def test_sasl_ssl_wrong_password_names_the_sasl_settings(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_broker.sasl_ssl_bootstrap is not None and tls_broker.ssl_cafile is not None
    _use_sasl_ssl(monkeypatch, tls_broker.ssl_cafile, "SCRAM-SHA-512", WRONG)
    with pytest.raises(BrokerUnavailableError) as info:
        await ensure_topics(tls_broker.sasl_ssl_bootstrap, ["dwf-tls-never"], 1, 1, timeout_s=15)
    message = str(info.value)
    assert f"with SASL_SSL, SCRAM-SHA-512 as dwf, CA {tls_broker.ssl_cafile}" in message
    assert "DWF_KAFKA_SASL_PASSWORD" in message
    assert WRONG not in message and USERS["dwf"] not in message


async def test_worker_processes_claims_over_tls(
    tls_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`dana-wf worker` knows only the SSL listener: faust's broker_credentials (SSLCredentials with the
    CA's context) must connect for any record to reach an outcome topic (read back over PLAINTEXT)."""
    assert tls_broker.ssl_bootstrap is not None and tls_broker.ssl_cafile is not None
    _use_tls(monkeypatch, tls_broker.ssl_cafile)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=prefix)
    lines = claims_lines(8, seed=5)
    summary = await produce_lines(pipeline, topology, tls_broker.ssl_bootstrap, lines, partitions=1)
    assert summary.lines == len(lines)
    env = {
        "DWF_KAFKA_SECURITY_PROTOCOL": "SSL",
        "DWF_KAFKA_SSL_CAFILE": tls_broker.ssl_cafile,
        "DWF_METRICS_PORT": "0",
    }
    worker = start_worker(tmp_path, tls_broker.ssl_bootstrap, prefix, partitions=1, env=env)
    try:
        got = await wait_for_outcomes(
            tls_broker.bootstrap, topology, len(lines), 180, alive=lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert sum(len(v) for v in got.values()) == len(lines), log[-3000:]


def test_tls_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(broker.KafkaLauncherError, match="needs both --sasl-ssl-port and --sasl-users"):
        broker.up(broker.free_port(), data_dir=tmp_path, sasl_ssl_port=broker.free_port())
    port = broker.free_port()
    with pytest.raises(broker.KafkaLauncherError, match=r"--ssl-port \d+ is also the --port port"):
        broker.up(port, data_dir=tmp_path, ssl_port=port)
    assert not (tmp_path / "broker.pid").exists() and not (tmp_path / "tls").exists()


def test_server_properties_with_and_without_tls(tmp_path: Path) -> None:
    plain = broker.server_properties(9092, 9093, tmp_path)
    assert "SSL" not in plain and "ssl" not in plain
    keystore = tmp_path / "broker.p12"
    tls = broker.server_properties(9092, 9093, tmp_path, None, {"u": "p-1"}, 9095, 9096, keystore, "ks-pass")
    assert (
        "advertised.listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9095,SASL_SSL://127.0.0.1:9096\n"
        in tls
    )
    assert (
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL\n"
        in tls
    )
    assert "inter.broker.listener.name=PLAINTEXT\n" in tls
    assert f"ssl.keystore.location={keystore}\n" in tls and "ssl.keystore.type=PKCS12\n" in tls
    plain_login = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_u="p-1";'
    assert f"listener.name.sasl_ssl.plain.sasl.jaas.config={plain_login}\n" in tls
    assert "sasl_plaintext" not in tls
