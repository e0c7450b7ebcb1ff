"""The Kafka tests' topics are deleted after each test (tests/fixtures/kafka.py, ``topic_prefix``): a
test's ``<prefix>.*`` and its worker apps' ``<prefix>-*``, nothing else. Tests that kept theirs filled
the shared broker to 10,189 topics until it ran out of heap (docs/performance.md, session 10)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from dana_workflows.streams.kafka.admin import ensure_topics
from tests.fixtures.kafka import delete_test_topics

pytestmark = pytest.mark.integration


async def _listed(bootstrap: str, starts: tuple[str, ...]) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith(starts)}
    finally:
        await admin.close()


def test_a_tests_topics_and_its_apps_are_deleted_and_no_others(kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    mine = {f"{prefix}.claims-triage.in", f"{prefix}.audit", f"{prefix}-claims-triage-drift-changelog"}
    # same first characters, another test's prefix: kept
    others = {f"{prefix}0.claims-triage.in", f"{prefix}x-app-changelog"}
    asyncio.run(ensure_topics(kafka_bootstrap, sorted(mine | others), 1, 1))
    try:
        assert asyncio.run(_listed(kafka_bootstrap, (prefix,))) == mine | others

        assert set(delete_test_topics(kafka_bootstrap, prefix)) == mine
        assert asyncio.run(_listed(kafka_bootstrap, (prefix,))) == others
    finally:
        asyncio.run(_cleanup(kafka_bootstrap, others))


async def _cleanup(bootstrap: str, topics: set[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        present = [t for t in await admin.list_topics() if t in topics]
        if present:
            await admin.delete_topics(present)
    finally:
        await admin.close()


def test_a_broker_that_does_not_answer_is_a_warning_not_a_failure() -> None:
    with pytest.warns(UserWarning, match=r"topics t0\.\*, t0-\* not deleted"):
        assert delete_test_topics("127.0.0.1:9", "t0") == []
