"""`dana-wf produce` interrupted (Ctrl-C cancels its task) still sends the ingest audit rows of every line it
sent: an event on `.in` whose `received` row never reached the audit topic is read by `audit verify` as rows
removed from its run (newcomer4 N4-10: 199 such runs after one Ctrl-C, `chains BROKEN`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde
from dana_workflows.streams.kafka import producer as producer_module
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec
from tests.unit.streams.test_mut9_producer import SPEC  # the one-step claims spec the producer tests use

pytestmark = pytest.mark.unit


class SlowProducer:
    """A producer whose send yields to the loop, as aiokafka's does, so a cancel lands inside it."""

    instances: list[SlowProducer] = []

    def __init__(self, **_: Any) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.stopped = False
        SlowProducer.instances.append(self)

    async def start(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        await asyncio.sleep(0)
        self.sent.append((topic, value))
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True


def _events_and_received(producer: SlowProducer, topo: Topology) -> tuple[list[str], list[str]]:
    """The run ids of the events the producer sent to `.in`, and of the `received` rows on the audit topic."""
    serde, codec = EnvelopeSerde(topo.registry), WireCodec(topo.registry)
    events = [serde.decode(v)[1].run_id for t, v in producer.sent if t == topo.topic("in")]
    received = [
        r.run_id
        for t, v in producer.sent
        if t == topo.audit_topic
        for r in codec.decode_rows(v)
        if r.kind == "received"
    ]
    return events, received


def _produce_three_lines(tmp_path: Path) -> Any:
    """`dana-wf produce` of a three-line file, with produce_lines as the test patched it."""
    from typer.testing import CliRunner

    from dana_workflows.cli.main import app

    events = tmp_path / "e.jsonl"
    events.write_text("{}\n{}\n{}\n")
    claims = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"
    return CliRunner().invoke(app, ["produce", str(claims), "-i", str(events), "-b", "b:1", "-q"])


def test_an_interrupted_produce_sends_the_audit_rows_of_every_event_it_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def ensure_topics(*_: Any, **__: Any) -> list[str]:
        return []

    SlowProducer.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", SlowProducer)
    monkeypatch.setattr(producer_module, "ensure_topics", ensure_topics)
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    lines = [json.dumps({"amount": float(i + 1), "currency": "USD"}) for i in range(50)]
    clock = iter(range(1_000_000, 2_000_000))

    flushed: list[bool] = []

    async def interrupted() -> None:
        task = asyncio.current_task()
        assert task is not None

        def on_line(ordinal: int) -> None:
            if ordinal == 6:  # Ctrl-C: asyncio.run cancels the task, which stops at its next await
                task.cancel()

        await produce_lines(
            pipeline,
            topo,
            "broker:9092",
            lines,
            clock=lambda: next(clock),
            source="c.jsonl",
            on_line=on_line,
            on_audit_flushed=lambda: flushed.append(True),
        )

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(interrupted())

    (producer,) = SlowProducer.instances
    events, received = _events_and_received(producer, topo)
    assert 0 < len(events) < len(lines)  # interrupted part way
    assert received == events  # every event sent has its ingest rows on the audit topic, in order
    assert producer.stopped
    assert flushed == [True]  # what lets the command say so


def test_the_command_says_how_many_lines_it_sent_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def two_then_ctrl_c(*_: Any, on_line: Any, on_audit_flushed: Any, **__: Any) -> Any:
        on_line(0)
        on_line(1)
        on_audit_flushed()  # the finally sent the pending audit rows and the broker confirmed them
        raise KeyboardInterrupt

    monkeypatch.setattr(producer_module, "produce_lines", two_then_ctrl_c)
    res = _produce_three_lines(tmp_path)
    assert res.exit_code == 130
    assert "interrupted: 2 of 3 lines of" in res.output
    assert "dwf.claims-triage.in, each with its audit rows" in res.output
    assert "Traceback" not in res.output


def test_a_cancel_inside_an_audit_batch_send_keeps_that_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka's send awaits (metadata, buffer space) before it holds the record: a Ctrl-C landing there
    must not lose the batch already taken from the builder."""

    async def ensure_topics(*_: Any, **__: Any) -> list[str]:
        return []

    class CancelAtSecondAuditSend(SlowProducer):
        audit_sends = 0

        async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
            if topic.endswith(".audit"):
                CancelAtSecondAuditSend.audit_sends += 1
                if CancelAtSecondAuditSend.audit_sends == 2:
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel()  # lands at the sleep in SlowProducer.send: the batch is not held yet
            return await super().send(topic, value, key, headers)

    SlowProducer.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", CancelAtSecondAuditSend)
    monkeypatch.setattr(producer_module, "ensure_topics", ensure_topics)
    monkeypatch.setattr(producer_module, "AUDIT_EVERY_LINES", 3)
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    lines = [json.dumps({"amount": float(i + 1), "currency": "USD"}) for i in range(20)]
    clock = iter(range(1_000_000, 2_000_000))
    seen: list[int] = []
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(
            produce_lines(
                pipeline, topo, "b:1", lines, clock=lambda: next(clock), source="c.jsonl", on_line=seen.append
            )
        )
    (producer,) = SlowProducer.instances
    events, received = _events_and_received(producer, topo)
    assert len(events) == 6 and received == events  # lines 0-5, the second batch (3-5) kept
    assert len(seen) == len(events)  # what the command reports as produced


def test_a_second_ctrl_c_while_the_audit_rows_go_out_is_not_reported_as_their_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncio.run raises KeyboardInterrupt at once on a second Ctrl-C, while the finally still sends (or, a
    broker down, waits on) the pending audit rows: the line must not say every line went with its rows."""

    async def ctrl_c_twice(*_: Any, on_line: Any, on_audit_flushed: Any, **__: Any) -> Any:
        on_line(0)
        on_line(1)
        raise KeyboardInterrupt  # the second Ctrl-C: on_audit_flushed never ran

    monkeypatch.setattr(producer_module, "produce_lines", ctrl_c_twice)
    res = _produce_three_lines(tmp_path)
    assert res.exit_code == 130
    assert "interrupted: 2 of 3 lines of" in res.output
    assert "each with its audit rows" not in res.output
    assert "may not have reached dwf.audit" in res.output
    assert "Traceback" not in res.output


def test_audit_rows_the_broker_did_not_confirm_are_not_reported_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def ensure_topics(*_: Any, **__: Any) -> list[str]:
        return []

    class BrokerGoneAtFlush(SlowProducer):
        async def flush(self) -> None:
            raise RuntimeError("KafkaTimeoutError: batch expired")  # aiokafka, the broker down 40 s

    SlowProducer.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", BrokerGoneAtFlush)
    monkeypatch.setattr(producer_module, "ensure_topics", ensure_topics)
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    clock = iter(range(1_000_000, 2_000_000))
    flushed: list[bool] = []
    with pytest.raises(RuntimeError):
        asyncio.run(
            produce_lines(
                pipeline,
                topo,
                "b:1",
                ['{"amount": 1.0, "currency": "USD"}'],
                clock=lambda: next(clock),
                on_audit_flushed=lambda: flushed.append(True),
            )
        )
    assert flushed == []
    assert SlowProducer.instances[0].stopped
