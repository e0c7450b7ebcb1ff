"""A real SASL login: the DWF_KAFKA_* settings authenticate against a broker that asks for SASL.

One broker for the module, started by the launcher with a SASL_PLAINTEXT listener (``up(sasl_port=...,
sasl_users=...)``) beside its PLAINTEXT one: the engine's clients (aiokafka admin/producer/consumer from
``client_security()``, the topic admin, ``produce_lines`` and a real ``dana-wf worker`` through faust's
``broker_credentials``) log in with PLAIN and SCRAM, and a wrong password stops with a message naming the
settings. The PLAINTEXT listener of the same broker is used only to read results back.
"""

from __future__ import annotations

import asyncio
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

USERS = {"dwf": "dwf-Secret=1:x", "other": "other-secret-2"}
WRONG = "not-the-password-9"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[broker.BrokerInfo]:
    """One launcher broker with a SASL_PLAINTEXT listener for the whole module, stopped at its end."""
    data_dir = tmp_path_factory.mktemp("kafka-sasl")
    info = start_launcher_broker(
        data_dir,
        "the launcher could not start a broker with a SASL listener",
        listeners=("sasl_port",),
        sasl_users=USERS,
    )
    try:
        yield info
    finally:
        broker.down(data_dir)


def _use(monkeypatch: pytest.MonkeyPatch, mechanism: str, user: str, password: str) -> None:
    """The DWF_* settings as a deployment sets them (read by core.settings via client_security())."""
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DWF_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("DWF_KAFKA_SASL_USERNAME", user)
    monkeypatch.setenv("DWF_KAFKA_SASL_PASSWORD", password)


def test_state_names_the_sasl_listener_without_passwords(sasl_broker: broker.BrokerInfo) -> None:
    assert sasl_broker.sasl_bootstrap == f"127.0.0.1:{sasl_broker.sasl_port}"
    assert sasl_broker.sasl_users == ("dwf", "other")
    state = (Path(sasl_broker.data_dir) / "broker.json").read_text()
    log = Path(sasl_broker.log_file).read_text(errors="replace")
    for password in USERS.values():
        assert password not in state and password not in log
    assert broker.status(sasl_broker.data_dir).running


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_clients_log_in_create_produce_and_consume(
    sasl_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, mechanism: str
) -> None:
    _use(monkeypatch, mechanism, "dwf", USERS["dwf"])
    kwargs = client_security().aiokafka_kwargs()
    assert kwargs["sasl_mechanism"] == mechanism and kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert sasl_broker.sasl_bootstrap is not None
    topic = f"dwf-sasl-{mechanism.lower()}-{uuid.uuid4().hex[:8]}"
    got = await create_produce_consume(sasl_broker.sasl_bootstrap, topic, b"over-sasl")
    assert got == [(b"k", b"over-sasl")]


async def test_topic_admin_logs_in_from_the_environment(
    sasl_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ensure_topics with a bootstrap address only (as the worker calls it) uses the DWF_* login."""
    _use(monkeypatch, "SCRAM-SHA-512", "other", USERS["other"])
    topic = f"dwf-sasl-env-{uuid.uuid4().hex[:8]}"
    assert sasl_broker.sasl_bootstrap is not None
    await ensure_topics(sasl_broker.sasl_bootstrap, [topic], 2, 1, timeout_s=20)
    admin = AIOKafkaAdminClient(bootstrap_servers=sasl_broker.bootstrap)  # the PLAINTEXT listener
    await admin.start()
    try:
        assert await topic_listed(admin, topic)
    finally:
        await admin.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_wrong_password_fails_with_a_message_naming_the_settings(
    sasl_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, mechanism: str
) -> None:
    _use(monkeypatch, mechanism, "dwf", WRONG)
    bootstrap = sasl_broker.sasl_bootstrap
    assert bootstrap is not None
    with pytest.raises(BrokerUnavailableError) as info:
        await ensure_topics(bootstrap, ["dwf-sasl-never"], 1, 1, timeout_s=15)
    message = str(info.value)
    assert f"cannot connect to Kafka at {bootstrap} with SASL_PLAINTEXT, {mechanism} as dwf" in message
    for name in ("DWF_KAFKA_SASL_MECHANISM", "DWF_KAFKA_SASL_USERNAME", "DWF_KAFKA_SASL_PASSWORD"):
        assert name in message
    assert WRONG not in message and USERS["dwf"] not in message

    # the raw clients see the broker's refusal as a failed bootstrap, not a hang
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_security().aiokafka_kwargs())
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_unknown_user_and_plaintext_client_are_refused(
    sasl_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, "SCRAM-SHA-256", "nobody", USERS["dwf"])
    assert sasl_broker.sasl_bootstrap is not None
    with pytest.raises(BrokerUnavailableError, match="SCRAM-SHA-256 as nobody"):
        await ensure_topics(sasl_broker.sasl_bootstrap, ["dwf-sasl-never"], 1, 1, timeout_s=15)
    # a client without SASL gets nothing from the SASL listener
    admin = AIOKafkaAdminClient(bootstrap_servers=sasl_broker.sasl_bootstrap, request_timeout_ms=5000)
    with pytest.raises((KafkaConnectionError, asyncio.TimeoutError)):
        await asyncio.wait_for(admin.start(), 15)
    await admin.close()


async def test_worker_processes_claims_over_sasl(
    sasl_broker: broker.BrokerInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`dana-wf worker` knows only the SASL listener: faust's broker_credentials must log in for any
    record to reach an outcome topic (read back over the PLAINTEXT listener)."""
    _use(monkeypatch, "SCRAM-SHA-256", "dwf", USERS["dwf"])
    assert sasl_broker.sasl_bootstrap is not None
    prefix = f"t{uuid.uuid4().hex[:8]}"
    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=prefix)
    lines = claims_lines(8, seed=3)
    summary = await produce_lines(pipeline, topology, sasl_broker.sasl_bootstrap, lines, partitions=1)
    assert summary.lines == len(lines)
    env = {
        "DWF_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "DWF_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "DWF_KAFKA_SASL_USERNAME": "dwf",
        "DWF_KAFKA_SASL_PASSWORD": USERS["dwf"],
        "DWF_METRICS_PORT": "0",
    }
    worker = start_worker(tmp_path, sasl_broker.sasl_bootstrap, prefix, partitions=1, env=env)
    try:
        got = await wait_for_outcomes(
            sasl_broker.bootstrap, topology, len(lines), 120, alive=lambda: worker.poll() is None
        )
    finally:
        code = stop_worker(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert sum(len(v) for v in got.values()) == len(lines), log[-3000:]
    assert USERS["dwf"] not in log


def test_sasl_users_are_checked_before_anything_starts(tmp_path: Path) -> None:
    assert broker.parse_sasl_users("a:x=y:z, b:pw") == {"a": "x=y:z", "b": "pw"}
    for bad, why in [
        ("alice", "has no password"),
        ("alice:", "is empty or holds"),
        ("alice:p w", "is empty or holds"),
        ('alice:p"w', "is empty or holds"),
        ("al ice:pw", "letters, digits"),
        ("a:1,a:2", "given twice"),
        ("", "no SASL users"),
    ]:
        with pytest.raises(broker.KafkaLauncherError, match=why):
            broker.parse_sasl_users(bad)
    with pytest.raises(broker.KafkaLauncherError, match="needs both --sasl-port and --sasl-users"):
        broker.up(broker.free_port(), data_dir=tmp_path, sasl_port=broker.free_port())
    assert not (tmp_path / "broker.pid").exists()


def test_server_properties_without_sasl_are_unchanged(tmp_path: Path) -> None:
    plain = broker.server_properties(9092, 9093, tmp_path)
    assert "SASL" not in plain and "sasl" not in plain
    assert "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n" in plain
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:9092\n" in plain
    sasl = broker.server_properties(9092, 9093, tmp_path, 9094, {"u": "p-1"})
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094\n" in sasl
    assert "inter.broker.listener.name=PLAINTEXT\n" in sasl
    assert "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n" in sasl
    assert 'PlainLoginModule required user_u="p-1";' in sasl
