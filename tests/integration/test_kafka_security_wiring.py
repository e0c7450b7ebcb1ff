"""The DWF_KAFKA_* security settings reach the real clients: against the test broker (PLAINTEXT only), a
client that really speaks SASL or TLS fails to connect, and says which settings it used; PLAINTEXT works.

Successful SASL logins (PLAIN, SCRAM-SHA-256/512, a real worker) run against the launcher's SASL_PLAINTEXT
listener in tests/integration/test_kafka_sasl.py; TLS against a real listener is not tested. The mapping is
unit-tested in tests/unit/streams/test_kafka_security.py.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from typer.testing import CliRunner

from dana_workflows.streams.kafka.admin import BrokerUnavailableError, delete_topics, ensure_topics
from dana_workflows.streams.kafka.security import KafkaSecurity
from tests.integration.kafka_support import CLAIMS_SPEC

pytestmark = pytest.mark.integration

SASL = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "dwf", SecretStr("not-the-password-1"))


async def test_plaintext_admin_creates_topics(kafka_bootstrap: str) -> None:
    topic = f"dwf-sec-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic], 1, 1, timeout_s=20, security=KafkaSecurity())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert topic in await admin.list_topics()
    finally:
        await admin.close()
        await delete_topics(kafka_bootstrap, (topic,))  # a test's topics do not outlive it


@pytest.mark.parametrize("security", [SASL, KafkaSecurity("SSL")], ids=["sasl", "ssl"])
async def test_admin_speaks_the_configured_protocol(kafka_bootstrap: str, security: KafkaSecurity) -> None:
    with pytest.raises(BrokerUnavailableError) as info:
        await ensure_topics(kafka_bootstrap, ["dwf-sec-never"], 1, 1, timeout_s=10, security=security)
    message = str(info.value)
    assert f"cannot connect to Kafka at {kafka_bootstrap} with {security.protocol}" in message
    assert "not-the-password-1" not in message


async def test_admin_reads_the_environment(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker calls ensure_topics with a bootstrap address only: the DWF_* settings still apply."""
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DWF_KAFKA_SASL_USERNAME", "dwf")
    monkeypatch.setenv("DWF_KAFKA_SASL_PASSWORD", "not-the-password-1")
    with pytest.raises(BrokerUnavailableError, match="with SASL_PLAINTEXT, PLAIN as dwf"):
        await ensure_topics(kafka_bootstrap, ["dwf-sec-never"], 1, 1, timeout_s=10)


async def test_broker_view_consumer_speaks_the_configured_protocol(kafka_bootstrap: str) -> None:
    from dana_workflows.streams.kafka.broker_view import BrokerView

    view = BrokerView(None, kafka_bootstrap, read_committed=False, security=SASL)
    with pytest.raises(Exception, match=r"SASL|Unable to bootstrap|IllegalSaslState|connect"):
        await asyncio.wait_for(view.scan({("dwf-sec-never", 0): (0, 0)}), 20)
    await view.close()
    plain = BrokerView(None, kafka_bootstrap, read_committed=False)
    topic = f"dwf-sec-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic], 1, 1, timeout_s=20, security=KafkaSecurity())
    try:
        assert await plain.scan({(topic, 0): (0, 0)}, timeout_s=1) == {(topic, 0): (-1, {})}
    finally:
        await plain.close()
        await delete_topics(kafka_bootstrap, (topic,))


def test_worker_command_uses_the_settings(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dana-wf worker` with SASL settings against a PLAINTEXT broker stops with the reason, exit 1."""
    from dana_workflows.cli.worker import app

    monkeypatch.chdir(tmp_path)
    env = {
        "DWF_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DWF_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "DWF_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "DWF_KAFKA_SASL_USERNAME": "dwf",
        "DWF_KAFKA_SASL_PASSWORD": "not-the-password-1",
        "DWF_DATA_DIR": str(tmp_path / "data"),
        "DWF_METRICS_PORT": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["worker", str(CLAIMS_SPEC), "--no-audit-sink"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())  # rich wraps the message
    assert "cannot connect to Kafka" in output and "SASL_PLAINTEXT, SCRAM-SHA-256 as dwf" in output
    assert "not-the-password-1" not in output
