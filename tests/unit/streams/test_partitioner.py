"""The producers' partitioner: Kafka's partition of a key (murmur2, sign bit cleared, modulo the count), as
aiokafka's DefaultPartitioner and the Java client give it, with the hash in C where the extension is built."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.codec import ACCELERATOR_BUILT, accelerator_function
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.kafka import partitioner as partitioner_module
from dana_workflows.streams.kafka.partitioner import PARTITIONER, Murmur2Partitioner, murmur2
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec
from tests.integration.kafka_support import CLAIMS_SPEC

pytestmark = pytest.mark.unit

# org.apache.kafka.common.utils.UtilsTest.testMurmur2: the Java client's murmur2, a signed int
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
# the Java client's default partitioner over 1,000 partitions (kafka-python's compatibility test)
JAVA_PARTITION_OF_1000 = {b"": 681, b"a": 524, b"ab": 434, b"abc": 107, b"123456789": 566, b"\x00 ": 742}


def _signed(h: int) -> int:
    return h - (1 << 32) if h & 0x80000000 else h


def test_the_c_hash_is_used_where_the_extension_is_built() -> None:
    if not ACCELERATOR_BUILT:
        pytest.skip("extension not built: aiokafka's murmur2 is the expected fallback")
    assert murmur2 is accelerator_function("murmur2")
    assert murmur2 is not aiokafka_murmur2


def test_an_extension_without_the_function_leaves_the_python_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    import dana_workflows.schemas.codec as codec

    monkeypatch.setattr(codec, "_FAST", None)
    assert accelerator_function("murmur2") is None
    monkeypatch.setattr(codec, "_FAST", object())  # an older build: no such attribute
    assert accelerator_function("murmur2") is None


@pytest.mark.parametrize("key", sorted(JAVA_MURMUR2))
def test_murmur2_is_the_java_clients(key: bytes) -> None:
    assert _signed(murmur2(key)) == JAVA_MURMUR2[key]
    assert 0 <= murmur2(key) < 1 << 32  # unsigned, as aiokafka's


@pytest.mark.parametrize("key", sorted(JAVA_PARTITION_OF_1000))
def test_the_partition_is_the_java_clients(key: bytes) -> None:
    partitions = list(range(1000))
    assert PARTITIONER(key, partitions, partitions) == JAVA_PARTITION_OF_1000[key]


@given(st.binary(max_size=300))
def test_murmur2_is_aiokafkas_for_any_bytes(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.text(max_size=80), st.integers(1, 64), st.lists(st.integers(0, 200), max_size=5))
def test_a_keys_partition_is_aiokafkas_default(text: str, count: int, unavailable: list[int]) -> None:
    """Text keys as the producers' run ids are (UTF-8: empty, non-ASCII, astral), every partition count,
    some partitions unavailable (a keyed record's partition does not depend on them)."""
    key = text.encode("utf-8", "surrogatepass")
    partitions = [p * 3 + 1 for p in range(count)]  # ids need not be 0..n-1: the index is taken
    available = [p for p in partitions if p not in unavailable]
    assert PARTITIONER(key, partitions, available) == DefaultPartitioner()(key, partitions, available)


@given(st.binary(max_size=64))
def test_bytes_like_keys_hash_as_their_bytes(key: bytes) -> None:
    assert murmur2(bytearray(key)) == murmur2(memoryview(key)) == aiokafka_murmur2(key)


def test_a_key_that_is_not_bytes_is_refused() -> None:
    with pytest.raises(TypeError):
        murmur2("text")  # type: ignore[arg-type]


def test_an_unkeyed_record_goes_to_an_available_partition_else_any() -> None:
    p = Murmur2Partitioner()
    assert {p(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {p(None, [0, 1, 2, 3], []) for _ in range(200)} == {0, 1, 2, 3}


def test_the_pure_python_fallback_gives_the_same_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitioner_module, "murmur2", aiokafka_murmur2)
    partitions = list(range(1000))
    for key, expected in JAVA_PARTITION_OF_1000.items():
        assert Murmur2Partitioner()(key, partitions, partitions) == expected


def test_the_workers_producer_is_given_the_partitioner(tmp_path: Path) -> None:
    """faust's producer (the worker's sends under exactly-once and faust's own) hands it to aiokafka."""
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = compile_pipeline(parse_spec(CLAIMS_SPEC.read_text()))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)  # builds, never connects
    assert runtime.app.conf.producer_partitioner is PARTITIONER
    assert runtime.app.producer._settings_default()["partitioner"] is PARTITIONER


def test_dana_wf_produce_is_given_the_partitioner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dana_workflows.streams.kafka import producer as producer_module

    made: list[dict[str, Any]] = []

    class Producer:
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)

        async def start(self) -> None:
            raise RuntimeError("stop here")

    async def ensure_topics(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(producer_module, "AIOKafkaProducer", Producer)
    monkeypatch.setattr(producer_module, "ensure_topics", ensure_topics)
    pipeline = compile_pipeline(parse_spec(CLAIMS_SPEC.read_text()))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    with pytest.raises(RuntimeError, match="stop here"):
        asyncio.run(producer_module.produce_lines(pipeline, topo, "broker:9092", []))
    assert made[0]["partitioner"] is PARTITIONER


class _StopAtStart(Exception):
    pass


def _claims_topology(tmp_path: Path) -> Topology:
    return Topology(compile_pipeline(parse_spec(CLAIMS_SPEC.read_text())), FileRegistry(tmp_path / "schemas"))


async def _no_topics(*_: Any, **__: Any) -> None:
    return None


def _recording_producer(made: list[Any]) -> type:
    """aiokafka's own producer class, built as the code under test builds it, stopped before it connects."""
    from aiokafka import AIOKafkaProducer

    class Recorded(AIOKafkaProducer):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._closed = True  # never opened: nothing for its finalizer to warn about
            made.append(self)

        async def start(self) -> None:
            raise _StopAtStart

    return Recorded


def test_the_resume_topics_producer_is_given_the_partitioner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dana-wf resume` puts a run's envelope on the partition its worker reads (docs/kafka-runtime.md)."""
    from dana_workflows.streams.kafka import resume_topics
    from dana_workflows.streams.kafka.security import KafkaSecurity

    made: list[Any] = []
    monkeypatch.setattr(resume_topics, "AIOKafkaProducer", _recording_producer(made))
    monkeypatch.setattr(resume_topics, "ensure_topics", _no_topics)
    with pytest.raises(_StopAtStart):
        asyncio.run(
            resume_topics.send_resumed(
                "127.0.0.1:9", _claims_topology(tmp_path), [], KafkaSecurity(), partitions=1, replication=1
            )
        )
    assert made[0]._partitioner is PARTITIONER


def test_the_shadow_taps_producer_is_given_the_partitioner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shadow tap re-keys the live events onto the shadow's input: on the partition its worker reads."""
    import aiokafka

    from dana_workflows.cli import shadow
    from dana_workflows.streams.kafka import admin
    from dana_workflows.streams.kafka.options import KafkaOptions

    made: list[Any] = []

    class Consumer:
        def __init__(self, *_: Any, **__: Any) -> None:
            pass

        async def start(self) -> None:
            raise _StopAtStart

        async def stop(self) -> None:
            return None

    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", _recording_producer(made))
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(admin, "ensure_topics", _no_topics)
    topo = _claims_topology(tmp_path)
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None)

    async def run() -> int:
        return await shadow.tap(topo, topo, options, asyncio.Event())

    with pytest.raises(_StopAtStart):
        asyncio.run(run())
    assert made[0]._partitioner is PARTITIONER
