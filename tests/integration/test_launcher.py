"""The local Kafka launcher gives a real broker that does what the runtime needs of one.

The session broker (``kafka_bootstrap``) must answer metadata requests, round-trip a record through a
consumer group (the offsets topic works on one node), and commit a transaction (the transaction state log
works on one node). The launcher's own lifecycle (up, status, restart with data kept, down) runs on a
second broker in a temp dir so it never disturbs the session one.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dana_workflows.devservices.kafka import broker
from tests.integration.kafka_support import open_transactions, read_topic

pytestmark = pytest.mark.integration

_DEADLINE_S = 30.0


async def _consume(consumer: AIOKafkaConsumer, count: int) -> list[tuple[bytes | None, bytes | None]]:
    """Read ``count`` records or give up after a bounded time (the assert then shows what came)."""
    got: list[tuple[bytes | None, bytes | None]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DEADLINE_S
    while len(got) < count and loop.time() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            got.extend((r.key, r.value) for r in records)
    return got


async def test_broker_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert cluster["brokers"], cluster
    assert cluster["controller_id"] is not None


async def test_record_round_trips_through_a_consumer_group(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"n": 1}', key=b"k1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}.group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got = await _consume(consumer, 1)
        await consumer.commit()
        committed = [await consumer.committed(tp) for tp in consumer.assignment()]
    finally:
        await consumer.stop()
    assert got == [(b"k1", b'{"n": 1}')]
    assert sum(c or 0 for c in committed) == 1  # the offsets topic took the group's commit


async def test_transactional_producer_commits_and_aborts(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.tx"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}.txid")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1", partition=0)
            await producer.send(topic, b"committed-2", partition=0)
        await producer.begin_transaction()
        await producer.send(topic, b"aborted", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3", partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = await _consume(consumer, 3)
    finally:
        await consumer.stop()
    assert [value for _, value in got] == [b"committed-1", b"committed-2", b"committed-3"]


async def test_an_open_transaction_hides_later_records_from_read_committed(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Why ``wait_consumed`` first waits for ``open_transactions`` to be empty: a plain record written after
    a transaction's first record is invisible to read_committed readers until that transaction ends."""
    topic = f"{topic_prefix}.lso"
    txn = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}.lso")
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await txn.start()
    await plain.start()
    try:
        await (await plain.send(topic, b"before", partition=0))
        assert await open_transactions(kafka_bootstrap, topic) == []
        await txn.begin_transaction()
        await (await txn.send(topic, b"in-transaction", partition=0))
        await (await plain.send(topic, b"after", partition=0))
        assert await open_transactions(kafka_bootstrap, topic) == [0]
        assert [r.value for r in await read_topic(kafka_bootstrap, topic)] == [b"before"]
        await txn.abort_transaction()
        assert await open_transactions(kafka_bootstrap, topic) == []
        assert [r.value for r in await read_topic(kafka_bootstrap, topic)] == [b"before", b"after"]
    finally:
        await txn.stop()
        await plain.stop()


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(broker.KafkaLauncherError, match=f"port {taken} .* already in use"):
            broker.up(port=taken, controller_port=broker.free_port(), data_dir=tmp_path)
    assert not (tmp_path / "broker.pid").exists()


async def _produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, count: int) -> list[bytes | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        return [value for _, value in await _consume(consumer, count)]
    finally:
        await consumer.stop()


def test_lifecycle_up_status_restart_down(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    port, controller_port = broker.free_port(), broker.free_port()
    info = broker.up(port, controller_port, data_dir=data_dir, die_with_parent=True)
    try:
        assert info.bootstrap == f"127.0.0.1:{port}"
        st = broker.status(data_dir)
        assert (st.running, st.pid, st.port, st.answering) == (True, info.pid, port, True)
        assert broker.up(port, controller_port, data_dir=data_dir).pid == info.pid  # idempotent
        asyncio.run(_produce_one(info.bootstrap, "kept", b"before-restart"))

        assert broker.down(data_dir) is True
        assert broker.status(data_dir).running is False
        assert not (data_dir / "broker.pid").exists()
        assert broker.down(data_dir) is False  # nothing left to stop

        again = broker.up(port, controller_port, data_dir=data_dir, die_with_parent=True)
        assert again.pid != info.pid
        assert again.cluster_id == info.cluster_id  # the formatted storage was reused
        assert asyncio.run(_read_all(again.bootstrap, "kept", 1)) == [b"before-restart"]
    finally:
        broker.down(data_dir)
    assert broker.status(data_dir).running is False
