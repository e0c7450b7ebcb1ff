"""Read a topic whole: every record from its beginning to its end at the time of asking, with no consumer
group (nothing is committed, no worker's group is touched). For commands that look at a topic's contents
(`dana-wf review`, `dana-wf dlq`) and for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from dana_workflows.streams.kafka.admin import BrokerUnavailableError, broker_hint
from dana_workflows.streams.kafka.security import KafkaSecurity

READ_TIMEOUT_S = 30.0


async def partitions(bootstrap: str, topic: str, security: KafkaSecurity | None = None) -> list[int]:
    """The topic's partitions (none when it does not exist yet). The admin client is asked: a group-less
    consumer's own metadata knows only the topics it was assigned."""
    security = security or KafkaSecurity()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.aiokafka_kwargs())
    try:
        await admin.start()
    except (KafkaError, OSError):  # no broker there: the commands' one line with the fix (`dana-wf status`'s)
        await admin.close()
        raise BrokerUnavailableError(broker_hint(bootstrap, security)) from None
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described if d.get("error_code", 0) == 0 for p in d["partitions"])


async def read_records(
    bootstrap: str, topic: str, security: KafkaSecurity | None = None, *, committed_only: bool = True
) -> list[Any]:
    """Every record of ``topic`` up to its current end (only committed ones, unless asked otherwise)."""
    security = security or KafkaSecurity()
    tps = [TopicPartition(topic, p) for p in await partitions(bootstrap, topic, security)]
    if not tps:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed_only else "read_uncommitted",
        auto_offset_reset="earliest",
        **security.aiokafka_kwargs(),
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= end[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            for recs in (await consumer.getmany(*tps, timeout_ms=500)).values():
                records.extend(recs)
        return records
    finally:
        with contextlib.suppress(
            asyncio.CancelledError
        ):  # aiokafka: a group-less consumer's stop re-raises it
            await consumer.stop()
