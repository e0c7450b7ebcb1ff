"""`ensure_topics` (streams/kafka/admin.py) against a stand-in admin client: it creates only the missing
topics, once each, with the configured partitions and replication and the one message-size limit, tolerates
a concurrent creator, waits until the broker's metadata lists them, always closes its client, and a broker
that does not answer is one BrokerUnavailableError naming the address and the fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    InvalidReplicationFactorError,
    KafkaConnectionError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)

from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.streams.kafka import admin as admin_module
from dana_workflows.streams.kafka.admin import BrokerUnavailableError, ensure_topics
from dana_workflows.streams.kafka.security import KafkaSecurity

pytestmark = pytest.mark.unit


class Admin:
    """AIOKafkaAdminClient: ``existing`` topics, ``created`` the NewTopics asked for."""

    instances: list[Admin] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.existing: set[str] = set(Admin.preset)
        self.created: list[Any] = []
        self.closed = False
        self.lists = 0
        Admin.instances.append(self)

    preset: set[str] = set()
    start_error: BaseException | None = None
    start_hangs = False
    create_error: BaseException | None = None
    visible_after_lists = 0  # metadata lags the creation by this many list_topics calls

    async def start(self) -> None:
        if Admin.start_hangs:
            await asyncio.Event().wait()
        if Admin.start_error is not None:
            raise Admin.start_error

    async def list_topics(self) -> list[str]:
        self.lists += 1
        if self.lists > Admin.visible_after_lists:
            return sorted(self.existing | {t.name for t in self.created})
        return sorted(self.existing)

    async def create_topics(self, new_topics: list[Any]) -> None:
        self.created.extend(new_topics)
        if Admin.create_error is not None:
            raise Admin.create_error

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def fake_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    Admin.instances = []
    Admin.preset = set()
    Admin.start_error = None
    Admin.start_hangs = False
    Admin.create_error = None
    Admin.visible_after_lists = 0
    monkeypatch.setattr(admin_module, "AIOKafkaAdminClient", Admin)


PLAIN = KafkaSecurity()


def ensure(topics: list[str], timeout_s: float = 30.0, security: KafkaSecurity | None = PLAIN) -> Admin:
    asyncio.run(ensure_topics("broker:9092", topics, 6, 3, timeout_s=timeout_s, security=security))
    (client,) = Admin.instances
    return client


def test_missing_topics_are_created_once_each_with_partitions_replication_and_size_limit() -> None:
    Admin.preset = {"dwf.claims.in"}
    client = ensure(["dwf.claims.in", "dwf.claims.out", "dwf.audit", "dwf.claims.out"])
    assert [t.name for t in client.created] == ["dwf.claims.out", "dwf.audit"]
    for topic in client.created:
        assert topic.num_partitions == 6
        assert topic.replication_factor == 3
        assert topic.topic_configs == {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    assert client.closed


def test_nothing_is_created_when_every_topic_exists() -> None:
    Admin.preset = {"a", "b"}
    client = ensure(["a", "b"])
    assert client.created == []
    assert client.lists == 1  # nothing created: no metadata to wait for
    assert client.closed


def test_the_client_connects_to_the_bootstrap_with_the_timeout_and_security() -> None:
    client = ensure(["a"], timeout_s=2.5)
    assert client.kwargs["bootstrap_servers"] == "broker:9092"
    assert client.kwargs["request_timeout_ms"] == 2500
    assert client.kwargs["security_protocol"] == "PLAINTEXT"


def test_the_default_request_timeout_is_30_s() -> None:
    asyncio.run(ensure_topics("broker:9092", ["a"], 1, 1, security=PLAIN))
    assert Admin.instances[0].kwargs["request_timeout_ms"] == 30_000


def test_metadata_that_never_lists_the_topics_is_given_up_on_after_the_timeout() -> None:
    Admin.visible_after_lists = 1_000_000
    client = ensure(["a"], timeout_s=0.3)
    assert client.lists >= 2  # it polled, then returned: the create itself succeeded
    assert client.closed


def test_another_worker_creating_the_same_topics_is_no_error() -> None:
    Admin.create_error = TopicAlreadyExistsError()
    client = ensure(["a"])
    assert client.closed


def test_it_returns_once_the_metadata_lists_the_new_topics() -> None:
    Admin.visible_after_lists = 2  # the first list (what exists) and one poll do not see them yet
    client = ensure(["a", "b"], timeout_s=10)
    assert client.lists == 3
    assert client.closed


def test_a_failure_while_creating_still_closes_the_client() -> None:
    Admin.create_error = RuntimeError("broker went away")
    with pytest.raises(RuntimeError, match="broker went away"):
        ensure(["a"])
    assert Admin.instances[0].closed


@pytest.mark.parametrize("error", [RequestTimedOutError(), KafkaConnectionError(), NodeNotReadyError()])
def test_a_broker_that_connects_then_stops_answering_is_unavailable(error: BaseException) -> None:
    """Bootstrapped, then no answer (a broker out of heap, or shutting down): the same one line as a broker
    that is not there, and the client closed."""
    Admin.create_error = error
    with pytest.raises(BrokerUnavailableError, match="no Kafka broker answers at broker:9092"):
        ensure(["a"])
    assert Admin.instances[0].closed


def test_a_broker_that_answers_with_an_error_is_not_called_down() -> None:
    Admin.create_error = InvalidReplicationFactorError()
    with pytest.raises(InvalidReplicationFactorError):
        ensure(["a"])


@pytest.mark.parametrize("error", [KafkaConnectionError(), OSError("refused"), TimeoutError()])
def test_a_broker_that_does_not_answer_is_named_with_the_fix(error: BaseException) -> None:
    Admin.start_error = error
    with pytest.raises(BrokerUnavailableError) as info:
        ensure(["a"])
    message = str(info.value)
    assert "no Kafka broker answers at broker:9092" in message
    assert "dana-wf kafka up" in message
    assert "--broker host:port" in message
    assert "DWF_KAFKA_BOOTSTRAP_SERVERS" in message


def test_a_broker_that_never_finishes_the_handshake_is_unavailable_after_the_timeout() -> None:
    Admin.start_hangs = True
    with pytest.raises(BrokerUnavailableError, match="broker:9092"):
        ensure(["a"], timeout_s=0.05)


def test_with_tls_or_sasl_the_message_names_the_settings_to_check() -> None:
    Admin.start_error = KafkaConnectionError()
    secure = KafkaSecurity(protocol="SSL")
    with pytest.raises(BrokerUnavailableError) as info:
        ensure(["a"], security=secure)
    message = str(info.value)
    assert "cannot connect to Kafka at broker:9092 with SSL" in message
    for setting in (
        "DWF_KAFKA_SECURITY_PROTOCOL",
        "DWF_KAFKA_SASL_MECHANISM",
        "DWF_KAFKA_SASL_USERNAME",
        "DWF_KAFKA_SASL_PASSWORD",
        "DWF_KAFKA_SSL_CAFILE",
    ):
        assert setting in message, setting
    assert "dana-wf kafka up" not in message
