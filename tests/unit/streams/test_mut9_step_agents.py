"""The step agents (streams/kafka/steps.py) of a KafkaRuntime built but never connected, its committer
replaced by one that records every section: per source partition one section with the audit rows ahead of
the outcomes, then the offsets; a fused hop runs every step at once and sends once; a rejection is a
decision on the rejected topic with headers naming the source record and the reasons; bytes that cannot be
decoded go to the dlq untouched; a record delivered twice around a rebalance is skipped; in the per-step
layout each step's output goes to the next step's topic."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY, compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.kafka.wire import header_map
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: hops
input: {amount: double, currency: string, count: long?}
steps:
  - check:
      validate:
        - {id: positive, rule: "amount > 0.0", message: "amount must be positive"}
        - {id: known, rule: "currency in ['USD', 'EUR']", message: "unknown currency"}
  - tag:
      transform:
        set:
          big: {expr: "amount > 100.0", type: boolean}
          ratio: {expr: "count == null ? 0 : 10 / count", type: long}
"""

PRODUCED_AT = 1_700_000_000_000_000


class Section:
    def __init__(self, log: list[tuple[Any, ...]], topic: str, partition: int) -> None:
        self.log, self.where = log, (topic, partition)

    async def audit(self, rows: list[Any], now: bool = False) -> None:
        self.log.append(("audit", self.where, [(r.step, r.kind) for r in rows], list(rows)))

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self.log.append(("send", self.where, topic, key, value, header_map(headers)))

    def done(self, offset: int) -> None:
        self.log.append(("done", self.where, offset))


class Committer:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.stale_offsets: set[int] = set()

    def stale(self, msg: Any) -> bool:
        return bool(msg.offset in self.stale_offsets)

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[Section]:
        self.log.append(("section", (topic, partition)))
        yield Section(self.log, topic, partition)


def offline(tmp_path: Path, fuse: bool = True) -> tuple[Any, Committer]:
    from dana_workflows.streams.kafka.app import KafkaOptions, KafkaRuntime

    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    options = KafkaOptions(bootstrap="127.0.0.1:9", data_dir=tmp_path, metrics_port=None, fuse=fuse)
    runtime = KafkaRuntime(pipeline, topo, options, audit_store=None)  # builds, never connects
    committer = Committer()
    runtime.context.committer = committer  # type: ignore[assignment]
    return runtime, committer


def record(runtime: Any, line: dict[str, Any], offset: int, partition: int = 0) -> SimpleNamespace:
    pipeline, steps = runtime.pipeline, runtime.steps
    adm = admit(pipeline.workflow, json.dumps(line), offset, PRODUCED_AT + offset)
    assert adm.accepted
    value = steps.serde.encode(adm.envelope, runtime.topology.schema_id(ENTRY))
    topic = runtime.context.topic(ENTRY)
    return SimpleNamespace(
        value=value, headers=[], topic=topic, partition=partition, offset=offset, run_id=adm.envelope.run_id
    )


def handle(runtime: Any, msgs: list[Any], node: Any = None) -> None:
    steps = runtime.steps
    ctx, now_us = steps._step_context()
    asyncio.run(steps.handle(node or runtime.pipeline.entry_node, ctx, now_us, msgs))


def test_a_fused_hop_runs_every_step_and_sends_once_after_its_audit_rows(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path)
    msg = record(runtime, {"amount": 250.0, "currency": "USD"}, offset=7)
    handle(runtime, [msg])
    in_topic = runtime.context.topic(ENTRY)
    out_topic = runtime.context.topic("out")
    kinds = [entry[0] for entry in committer.log]
    assert kinds == ["section", "audit", "send", "done"]
    assert committer.log[0] == ("section", (in_topic, 0))
    steps_audited = [step for step, _ in committer.log[1][2]]
    assert "check" in steps_audited and "tag" in steps_audited  # both steps ran in this hop
    _, _, topic, key, value, headers = committer.log[2]
    assert topic == out_topic
    assert key == msg.run_id.encode()
    assert headers == {}
    _, env = runtime.steps.serde.decode(value)
    assert env.payload["big"] is True
    assert env.run_id == msg.run_id
    assert committer.log[3] == ("done", (in_topic, 0), 7)


def test_a_rejection_is_a_decision_naming_its_source_and_reasons(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path)
    msg = record(runtime, {"amount": -5.0, "currency": "GBP"}, offset=3, partition=1)
    handle(runtime, [msg])
    (send,) = [e for e in committer.log if e[0] == "send"]
    _, where, topic, key, value, headers = send
    assert runtime.context.codec.decode_mixed(value).payload == {
        "amount": -5.0,
        "currency": "GBP",
        "count": None,
    }
    assert where == (runtime.context.topic(ENTRY), 1)
    assert topic == runtime.context.topic("rejected")
    assert key == msg.run_id.encode()
    reasons = headers.pop("dwf-error").split("; ")  # each failing rule's reason, in the spec's order
    assert len(reasons) == 2
    assert "positive" in reasons[0] and "amount must be positive" in reasons[0]
    assert "known" in reasons[1] and "unknown currency" in reasons[1]
    assert headers == {
        "dwf-kind": "decision",
        "dwf-source-topic": runtime.context.topic(ENTRY),
        "dwf-source-partition": "1",
        "dwf-source-offset": "3",
        "dwf-schema-id": str(runtime.topology.schema_id(ENTRY)),
    }
    assert committer.log[-1] == ("done", (runtime.context.topic(ENTRY), 1), 3)


def test_undecodable_bytes_go_to_the_dlq_untouched(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path)
    bad = SimpleNamespace(
        value=b"\x00garbage",
        key=b"k-4",
        headers=[],
        topic=runtime.context.topic(ENTRY),
        partition=0,
        offset=4,
    )
    handle(runtime, [bad])
    (send,) = [e for e in committer.log if e[0] == "send"]
    _, _, topic, _, value, headers = send
    assert topic == runtime.context.topic("dlq")
    assert value == b"\x00garbage"
    assert send[3] == b"k-4"  # the key kept too
    assert headers["dwf-kind"] == "poison"
    assert headers["dwf-source-offset"] == "4"
    assert committer.log[-1] == ("done", (runtime.context.topic(ENTRY), 0), 4)


def test_one_section_per_source_partition_and_stale_records_skipped(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path)
    committer.stale_offsets = {11}
    msgs = [
        record(runtime, {"amount": 1.0, "currency": "USD"}, offset=10, partition=0),
        record(runtime, {"amount": 2.0, "currency": "EUR"}, offset=11, partition=0),  # delivered twice
        record(runtime, {"amount": 3.0, "currency": "USD"}, offset=20, partition=2),
        record(runtime, {"amount": 4.0, "currency": "EUR"}, offset=12, partition=0),
    ]
    handle(runtime, msgs)
    in_topic = runtime.context.topic(ENTRY)
    sections = [e[1] for e in committer.log if e[0] == "section"]
    assert sections == [(in_topic, 0), (in_topic, 2)]
    done = [(e[1][1], e[2]) for e in committer.log if e[0] == "done"]
    assert done == [(0, 10), (0, 12), (2, 20)]
    sends = [e for e in committer.log if e[0] == "send"]
    assert [s[3] for s in sends] == [
        msgs[0].run_id.encode(),
        msgs[3].run_id.encode(),
        msgs[2].run_id.encode(),
    ]
    # per section: the rows of its records first, then their outcomes, then the offsets
    first = [e[0] for e in committer.log[: committer.log.index(("section", (in_topic, 2)))]]
    assert first == ["section", "audit", "send", "send", "done", "done"]


def test_per_step_layout_sends_each_steps_output_to_the_next_steps_topic(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path, fuse=False)
    msg = record(runtime, {"amount": 50.0, "currency": "USD"}, offset=0)
    handle(runtime, [msg])
    audited = [e for e in committer.log if e[0] == "audit"]
    assert {step for step, _ in audited[0][2]} == {"check"}  # only the first step ran
    (send,) = [e for e in committer.log if e[0] == "send"]
    assert send[2] not in (runtime.context.topic("out"), runtime.context.topic(ENTRY))
    tag = runtime.pipeline.nodes["tag"]
    assert send[2] == runtime.context.topic(tag.input)


def test_a_step_that_fails_is_a_dlq_decision_naming_the_error(tmp_path: Path) -> None:
    runtime, committer = offline(tmp_path)
    msg = record(runtime, {"amount": 5.0, "currency": "USD", "count": 0}, offset=1)  # 10 / 0
    handle(runtime, [msg])
    (send,) = [e for e in committer.log if e[0] == "send"]
    _, _, topic, key, value, headers = send
    assert topic == runtime.context.topic("dlq")
    assert key == msg.run_id.encode()
    assert headers["dwf-kind"] == "decision"
    assert headers["dwf-source-offset"] == "1"
    assert "division by zero" in headers["dwf-error"]
    env = runtime.context.codec.decode_mixed(value)
    assert env.run_id == msg.run_id and env.payload["amount"] == 5.0
    (audit,) = [e for e in committer.log if e[0] == "audit"]
    assert audit[2][-1] == ("tag", "dlq")


def test_a_redelivered_record_audits_identical_rows_under_at_least_once(tmp_path: Path) -> None:
    """At-least-once: the steps' clock is the record's admission time, so a redelivery hashes the same."""
    runtime, committer = offline(tmp_path)
    msg = record(runtime, {"amount": 250.0, "currency": "USD"}, offset=7)
    handle(runtime, [msg])
    handle(runtime, [msg])
    first, second = [e[3] for e in committer.log if e[0] == "audit"]
    assert [r.hash for r in first] == [r.hash for r in second]
    assert {r.ts_us for r in first} == {PRODUCED_AT + 7}
