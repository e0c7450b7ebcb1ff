"""DWF_KAFKA_* security settings -> what faust and aiokafka are given (streams/kafka/security.py).

Pure mapping, checked by building the real clients (faust App, aiokafka admin/consumer) without
connecting them. Logging in to a real broker's SASL listener (PLAIN, SCRAM-SHA-256/512) is
tests/integration/test_kafka_sasl.py; TLS against a real broker is not run (docs/deploy.md says so).
"""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dana_workflows.core.settings import Settings
from dana_workflows.streams.kafka.security import KafkaSecurity, KafkaSecurityError, client_security

pytestmark = pytest.mark.unit

PASSWORD = "s3cr3t-Pa55word-xyz"


@pytest.fixture(scope="module")
def cafile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate (PEM), made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not found")
    where = tmp_path_factory.mktemp("ca")
    cert = where / "ca.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dwf-test-ca"),
            *("-keyout", str(where / "ca.key"), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert


def settings(**values: Any) -> Settings:
    return Settings(**values)


def test_plaintext_means_no_credentials() -> None:
    sec = client_security(settings())
    assert sec.protocol == "PLAINTEXT"
    assert sec.faust_credentials() is None
    assert sec.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert sec.ssl_context() is None


def test_ssl_with_cafile_gives_a_verifying_context(cafile: Path) -> None:
    from faust.auth import SSLCredentials

    sec = client_security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(cafile)))
    creds = sec.faust_credentials()
    assert isinstance(creds, SSLCredentials)
    assert creds.protocol.value == "SSL"
    context = creds.context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    subjects = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
    assert {"commonName": "dwf-test-ca"} in subjects, "the CA file was not loaded"
    kwargs = sec.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert "sasl_mechanism" not in kwargs


def test_ssl_without_cafile_trusts_the_system_cas() -> None:
    sec = client_security(settings(kafka_security_protocol="SSL"))
    context = sec.ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_ssl_scram_gives_sasl_credentials_and_hides_the_password(
    cafile: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from faust.auth import SASLCredentials

    caplog.set_level(logging.DEBUG)
    sec = client_security(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="scram-sha-512",
            kafka_sasl_username="dwf",
            kafka_sasl_password=SecretStr(PASSWORD),
            kafka_ssl_cafile=str(cafile),
        )
    )
    creds = sec.faust_credentials()
    assert isinstance(creds, SASLCredentials)
    assert creds.protocol.value == "SASL_SSL"
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert (creds.username, creds.password) == ("dwf", PASSWORD)
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    kwargs = sec.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "dwf"
    assert kwargs["sasl_plain_password"] == PASSWORD
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    # never in a repr, a description or a log line
    for text in (repr(sec), str(sec), repr(creds), sec.describe(), caplog.text):
        assert PASSWORD not in text
    assert "SCRAM-SHA-512 as dwf" in sec.describe()


def test_sasl_plaintext_defaults_to_plain() -> None:
    from faust.auth import SASLCredentials

    sec = client_security(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="dwf",
            kafka_sasl_password=SecretStr(PASSWORD),
        )
    )
    creds = sec.faust_credentials()
    assert isinstance(creds, SASLCredentials)
    assert creds.protocol.value == "SASL_PLAINTEXT" and creds.ssl_context is None
    assert creds.mechanism.value == "PLAIN"
    kwargs = sec.aiokafka_kwargs()
    assert kwargs["sasl_mechanism"] == "PLAIN" and "ssl_context" not in kwargs


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "dwf"},
            "DWF_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs DWF_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT"},
            "DWF_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs "
            "DWF_KAFKA_SASL_USERNAME and DWF_KAFKA_SASL_PASSWORD",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "GSSAPI",
                "kafka_sasl_username": "dwf",
                "kafka_sasl_password": PASSWORD,
            },
            "DWF_KAFKA_SASL_MECHANISM=GSSAPI is not supported: "
            "use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        (
            {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "dwf"},
            "DWF_KAFKA_SASL_MECHANISM, DWF_KAFKA_SASL_USERNAME are set but "
            "DWF_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
            "DWF_KAFKA_SSL_CAFILE=/nonexistent/ca.pem: no such file",
        ),
        (
            {"kafka_ssl_cafile": "/etc/hostname"},
            "DWF_KAFKA_SSL_CAFILE is set but DWF_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS",
        ),
    ],
)
def test_bad_combinations_name_the_variable_and_the_fix(values: dict[str, Any], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        client_security(settings(**values))


def test_a_cafile_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(KafkaSecurityError, match="not a usable CA bundle"):
        client_security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(bogus)))


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(KafkaSecurityError) as info:
        client_security(settings(kafka_sasl_password=SecretStr(PASSWORD)))
    assert "DWF_KAFKA_SASL_PASSWORD is set" in str(info.value) and PASSWORD not in str(info.value)


def test_client_security_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ensure_topics and other callers that know only a bootstrap address use DWF_* from the environment."""
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DWF_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("DWF_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("DWF_KAFKA_SASL_PASSWORD", PASSWORD)
    sec = client_security()
    assert (sec.protocol, sec.mechanism, sec.username) == ("SASL_PLAINTEXT", "SCRAM-SHA-256", "svc")


def test_kafka_options_carry_it_into_the_faust_app_and_the_broker_view(cafile: Path, tmp_path: Path) -> None:
    """The worker's faust App and its side consumer are built with the credentials (nothing connects)."""
    from dana_workflows.streams.kafka.app import KafkaOptions

    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="dwf",
        kafka_sasl_password=SecretStr(PASSWORD),
        kafka_ssl_cafile=str(cafile),
        data_dir=tmp_path,
    )
    options = KafkaOptions.from_settings(s)
    assert options.security == KafkaSecurity.from_settings(s)
    assert PASSWORD not in repr(options)

    from dana_workflows.processors.pipeline import compile_pipeline
    from dana_workflows.streams.app_builder import topology_for
    from dana_workflows.streams.kafka.app import KafkaRuntime
    from dana_workflows.workflow.spec import parse_spec

    spec = "workflow: sec\nversion: 1\ninput: {x: double}\nsteps:\n  - check:\n      validate:\n"
    spec += '        - {id: pos, rule: "x > 0.0"}\n'
    pipeline = compile_pipeline(parse_spec(spec, file="sec.yaml"))
    runtime = KafkaRuntime(pipeline, topology_for(pipeline, s), options)
    from faust.auth import SASLCredentials

    creds = runtime.app.conf.broker_credentials
    assert isinstance(creds, SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.protocol.value == "SASL_SSL"
    # what faust's aiokafka driver derives from it for its consumer and producer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(creds)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert runtime.broker_view.security.aiokafka_kwargs()["sasl_plain_username"] == "dwf"
