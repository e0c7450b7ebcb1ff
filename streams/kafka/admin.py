"""Create a workflow's topics with the configured partitions and replication (idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError


class BrokerUnavailableError(RuntimeError):
    """The broker does not answer; the message says which address and how to start one."""


def broker_hint(bootstrap: str) -> str:
    return (
        f"no Kafka broker answers at {bootstrap}: start the local one with `dana-wf kafka up`, "
        "or pass --broker host:port (or set DWF_KAFKA_BOOTSTRAP_SERVERS)"
    )


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, replication: int, timeout_s: float = 30.0
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaConnectionError, TimeoutError, OSError):
        raise BrokerUnavailableError(broker_hint(bootstrap)) from None
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            # another worker may create them at the same time
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(t, partitions, replication) for t in missing])
        await _wait_for_metadata(admin, missing, timeout_s)
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while topics and loop.time() < deadline:
        known = set(await admin.list_topics())
        if all(t in known for t in topics):
            return
        await asyncio.sleep(0.2)
