"""The local Apache Kafka broker launcher: a real KRaft broker from Maven Central jars, no Docker needed."""

from dana_workflows.devservices.kafka.broker import (
    BrokerInfo,
    BrokerStatus,
    down,
    ensure_jars,
    kafka_home,
    kafka_version,
    status,
    up,
)
from dana_workflows.devservices.kafka.errors import KafkaLauncherError
from dana_workflows.devservices.kafka.sasl import parse_sasl_users
from dana_workflows.devservices.kafka.tls import TlsFiles, ensure_tls
from dana_workflows.devservices.processes import free_port

__all__ = [
    "BrokerInfo",
    "BrokerStatus",
    "KafkaLauncherError",
    "TlsFiles",
    "down",
    "ensure_jars",
    "ensure_tls",
    "free_port",
    "kafka_home",
    "kafka_version",
    "parse_sasl_users",
    "status",
    "up",
]
