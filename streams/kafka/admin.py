"""Create a workflow's topics with the configured partitions and replication (idempotent).

The admin client connects with the process's Kafka security settings (TLS/SASL, streams/kafka/security.py):
those given, else DWF_KAFKA_* read from the environment / config file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)

from dana_workflows.schemas.record_size import MAX_MESSAGE_BYTES
from dana_workflows.streams.kafka.security import KafkaSecurity, client_security


class BrokerUnavailableError(RuntimeError):
    """The broker does not answer; the message says which address and how to start one."""


def broker_hint(bootstrap: str, security: KafkaSecurity | None = None) -> str:
    if security is not None and security.protocol != "PLAINTEXT":
        return (
            f"cannot connect to Kafka at {bootstrap} with {security.describe()}: check that a broker is up "
            "there, that this listener speaks DWF_KAFKA_SECURITY_PROTOCOL, and that "
            "DWF_KAFKA_SASL_MECHANISM, DWF_KAFKA_SASL_USERNAME, DWF_KAFKA_SASL_PASSWORD and "
            "DWF_KAFKA_SSL_CAFILE are right"
        )
    return (
        f"no Kafka broker answers at {bootstrap}: start the local one with `dana-wf kafka up`, "
        "or pass --broker host:port (or set DWF_KAFKA_BOOTSTRAP_SERVERS)"
    )


# connected, then no answer to a request: a broker out of heap or shutting down is as down as one not started
_UNANSWERED = (RequestTimedOutError, KafkaConnectionError, NodeNotReadyError)


@contextlib.asynccontextmanager
async def _admin(
    bootstrap: str, timeout_s: float, security: KafkaSecurity
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A bootstrapped admin client, closed after use; BrokerUnavailableError (one line, with the fix) if
    no broker answers, at the start or to a request made with it."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **security.aiokafka_kwargs(),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaError, TimeoutError, OSError):
        # KafkaConnectionError, and what a failed TLS handshake or SASL exchange raises
        raise BrokerUnavailableError(broker_hint(bootstrap, security)) from None
    try:
        yield admin
    except _UNANSWERED:
        raise BrokerUnavailableError(broker_hint(bootstrap, security)) from None
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int,
    replication: int,
    timeout_s: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """The topics missing among ``topics``, created; returns them (none when a worker, or an earlier
    produce, had made them all)."""
    async with _admin(bootstrap, timeout_s, security or client_security()) as admin:
        return await _create_missing(admin, topics, partitions, replication, timeout_s)


async def topic_names(
    bootstrap: str, timeout_s: float = 30.0, security: KafkaSecurity | None = None
) -> list[str]:
    """Every topic on the broker, sorted."""
    async with _admin(bootstrap, timeout_s, security or client_security()) as admin:
        return sorted(await admin.list_topics())


async def _create_missing(
    admin: AIOKafkaAdminClient, topics: Iterable[str], partitions: int, replication: int, timeout_s: float
) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [t for t in dict.fromkeys(topics) if t not in existing]
    if missing:
        # another worker may create them at the same time
        with contextlib.suppress(TopicAlreadyExistsError):
            # max.message.bytes = the producers' max_request_size (schemas/record_size.py): one limit
            limits = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
            await admin.create_topics(
                [NewTopic(t, partitions, replication, topic_configs=limits) for t in missing]
            )
    await _wait_for_metadata(admin, missing, timeout_s)
    return missing


async def _wait_for_metadata(admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while topics and loop.time() < deadline:
        known = set(await admin.list_topics())
        if all(t in known for t in topics):
            return
        await asyncio.sleep(0.2)


async def delete_topics(
    bootstrap: str, starts: tuple[str, ...], timeout_s: float = 30.0, security: KafkaSecurity | None = None
) -> list[str]:
    """Delete every topic whose name starts with one of ``starts`` (a run's own topics: a worker's are
    ``<prefix>.<workflow>.<boundary>`` and its app's internal ``<prefix>-<workflow>-...``); the names deleted.

    Topics are never removed by the runtime itself; this is for runs that make throw-away topics (the
    benchmarks, tests), which otherwise pile up until the broker runs out of heap."""
    async with _admin(bootstrap, timeout_s, security or client_security()) as admin:
        mine = sorted(t for t in await admin.list_topics() if t.startswith(starts))
        if mine:
            await admin.delete_topics(mine, timeout_ms=int(timeout_s * 1000))
        return mine
