"""A worker's hop hands each step the envelope it has (``execute(..., owned=True)``, streams/kafka/steps.py):
the one decoded from the record for the first step, the boundary's copy for each next one; nothing reads
them afterwards, so the executor's copy of each is saved (docs/performance.md, session 14). What must
hold with it, under the real step agent (decode, the fused hop, the sends) on a runtime that never
connects: each step runs on that envelope itself; a first attempt that fails leaves it as it was, so the
retry sees what the failed attempt saw and the rows are the recovery ladder's; each send is keyed by the
record's run id.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.base import Outcome, StepContext
from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from tests.unit.drift.test_drift_alerts import offline_kafka_runtime

pytestmark = pytest.mark.unit

SEEN: list[float] = []


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    """Fails the first time it sees an amount, passes the next time (the retry)."""
    SEEN.append(payload["amount"])
    if SEEN.count(payload["amount"]) == 1:
        raise RuntimeError("flaky")
    return {"checked": True}


SPEC = """
workflow: owned
version: 1
input: {amount: double}
steps:
  - first: {validate: [{id: positive, rule: "amount > 0.0"}]}
  - second:
      transform: {function: "tests.unit.streams.test_worker_hop_owned:flaky"}
      retry: {max_attempts: 2}
drift:  # (offline_kafka_runtime wants a drift agent; its tap rides along, unasserted here)
  monitors:
    - {id: amounts, field: amount, feature: numeric}
"""


class Section:
    def __init__(self, sent: list[tuple[Any, ...]]) -> None:
        self.sent = sent

    async def audit(self, rows: list[AuditRow], now: bool = False) -> None:
        self.sent.extend(("audit", r) for r in rows)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self.sent.append((topic, key, value))

    def done(self, offset: int) -> None:
        self.sent.append(("done", offset))


class Committer:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def stale(self, msg: Any) -> bool:
        return False

    @contextlib.asynccontextmanager
    async def section(self, topic: str, partition: int) -> AsyncIterator[Section]:
        yield Section(self.sent)


class Watched:
    """The step's processor as it is, noting each envelope object it is handed."""

    def __init__(self, inner: Any, seen: list[Envelope]) -> None:
        self.inner, self.name, self.kind, self.seen = inner, inner.name, inner.kind, seen

    async def process(self, env: Envelope, ctx: StepContext) -> Outcome:
        self.seen.append(env)
        outcome: Outcome = await self.inner.process(env, ctx)
        return outcome


async def test_each_step_runs_on_the_envelope_the_hop_hands_it(tmp_path: Path) -> None:
    runtime, _, _ = offline_kafka_runtime(SPEC, tmp_path)
    pipeline, topology = runtime.pipeline, runtime.topology
    committer = Committer()  # records the sends' keys too
    runtime.context.committer = committer
    steps = runtime.steps
    handed: list[Envelope] = []  # what the hop had: the decoded envelope, then the boundary's copy
    decode_as, roundtrip = steps.serde.decode_as, steps.boundaries.roundtrip

    def decoded(data: bytes, sid: int) -> tuple[int, Envelope]:
        got: tuple[int, Envelope] = decode_as(data, sid)
        handed.append(got[1])
        return got

    def crossed(env: Envelope, boundary: str, clock: Any) -> Any:
        got = roundtrip(env, boundary, clock)
        handed.append(got)
        return got

    steps.serde.decode_as = decoded
    steps.boundaries.roundtrip = crossed
    seen: dict[str, list[Envelope]] = {}
    for node in pipeline.nodes.values():
        node.processor = Watched(node.processor, seen.setdefault(node.path, []))

    adm = admit(pipeline.workflow, '{"amount": 4.0}', 0, 1_700_000_000_000_000)
    assert adm.accepted
    msg = SimpleNamespace(
        value=steps.serde.encode(adm.envelope, topology.schema_id(ENTRY)),
        headers=[],
        topic=runtime.context.topic(ENTRY),
        partition=0,
        offset=0,
    )
    SEEN.clear()
    ctx, now_us = steps._step_context()
    await steps.handle(pipeline.entry_node, ctx, now_us, [msg])

    decoded_env, copy = handed
    (first,) = seen["first"]
    assert first is decoded_env  # no copy of the decoded envelope
    assert seen["second"][0] is copy  # the failed first attempt ran on the boundary's copy itself
    assert seen["second"][1] is not copy  # the retry on the executor's copy of it, as before
    assert SEEN == [4.0, 4.0]  # the failed attempt left the payload as it was: the retry saw the same
    rows = [sent[1] for sent in committer.sent if sent[0] == "audit"]
    assert [(r.step, r.kind) for r in rows] == [
        ("first", "emitted"),
        ("second", "error"),
        ("second", "recovery"),
        ("second", "emitted"),
        ("out", "completed"),
    ]
    (out,) = [sent for sent in committer.sent if sent[0] == runtime.context.topic("out")]
    assert out[1] == adm.envelope.run_id.encode()  # the send is keyed by the record's run id
