"""The broker's own view of source partitions, read beside the worker's group consumer (never moving it).

Two questions the committer asks (commit.py): where did consuming a partition start (the group's committed
offset, else the log start), and which records a range of offsets holds. The second uses a consumer of
its own, with no group and the same isolation level as the worker's, so it skips exactly what the worker's
consumer skips (transaction markers; aborted records under read_committed), and it returns the records:
one the worker never handled is handled from this copy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from dana_workflows.streams.kafka.frontier import Key
from dana_workflows.streams.kafka.security import KafkaSecurity

log = logging.getLogger(__name__)


class BrokerView:
    def __init__(
        self, app: Any, bootstrap: str, read_committed: bool, security: KafkaSecurity | None = None
    ) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.security = security or KafkaSecurity()
        self.isolation_level = "read_committed" if read_committed else "read_uncommitted"
        self._scanner: AIOKafkaConsumer | None = None

    async def starts(self, keys: list[Key]) -> dict[Key, int]:
        """Where the worker's consumer started on each partition: the group's committed offset, or the
        first offset of the log when the group has none (the app consumes from the earliest)."""
        thread = self.app.consumer._thread
        tps = [TopicPartition(t, p) for t, p in keys]

        async def fetch() -> dict[Key, int]:
            consumer = thread._ensure_consumer()
            found: dict[Key, int] = {}
            missing: list[TopicPartition] = []
            for tp in tps:
                offset = await consumer.committed(tp)
                if offset is None:
                    missing.append(tp)
                else:
                    found[(tp.topic, tp.partition)] = offset
            if missing:
                firsts = await consumer.beginning_offsets(missing)
                found.update({(tp.topic, tp.partition): o for tp, o in firsts.items()})
            return found

        result: dict[Key, int] = await thread.call_thread(fetch)
        return result

    async def _consumer(self) -> AIOKafkaConsumer:
        if self._scanner is None:
            scanner = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                isolation_level=self.isolation_level,
                fetch_max_wait_ms=50,
                max_partition_fetch_bytes=4 * 1024 * 1024,
                **self.security.aiokafka_kwargs(),
            )
            await scanner.start()
            self._scanner = scanner
        return self._scanner

    async def scan(
        self, ranges: dict[Key, tuple[int, int]], timeout_s: float = 5.0
    ) -> dict[Key, tuple[int, dict[int, ConsumerRecord[bytes, bytes]]]]:
        """For each partition and (start, end): the last offset scanned (``end`` or a bit beyond) and the
        records found from ``start`` to there, by offset. A partition the broker did not answer for within
        ``timeout_s`` comes back with what was scanned so far (possibly ``start - 1``: nothing)."""
        if not ranges:
            return {}
        consumer = await self._consumer()
        tps = {TopicPartition(t, p): (start, end) for (t, p), (start, end) in ranges.items()}
        consumer.assign(list(tps))
        for tp, (start, _) in tps.items():
            consumer.seek(tp, start)
        found: dict[TopicPartition, dict[int, ConsumerRecord[bytes, bytes]]] = {tp: {} for tp in tps}
        reached = {tp: start - 1 for tp, (start, _) in tps.items()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = set(tps)
        while waiting and loop.time() < deadline:
            batches = await consumer.getmany(*waiting, timeout_ms=200)
            for tp, records in batches.items():
                found[tp].update((r.offset, r) for r in records if r.offset <= tps[tp][1])
            for tp in list(waiting):
                # the position moves past markers and aborted records too: everything below it was seen
                reached[tp] = min(await consumer.position(tp) - 1, tps[tp][1])
                if reached[tp] >= tps[tp][1]:
                    waiting.discard(tp)
        return {(tp.topic, tp.partition): (reached[tp], found[tp]) for tp in tps}

    async def close(self) -> None:
        if self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            try:
                await scanner.stop()
            except Exception as exc:  # closing is best effort: the worker is stopping anyway
                log.debug("closing the broker view: %s", exc)
