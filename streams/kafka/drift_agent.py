"""Drift in the Kafka runtime: step agents carry each event's monitored values, one drift agent counts them.

An event's monitored values show at different steps (the input's fields, then a field a step sets), and
different agents handle those steps. The local runtime calls ``DriftObserver.observe`` once per event,
after its whole journey, with every value it collected; this runtime does the same:

* each step agent reads the values carried so far from the record's ``dwf-drift`` header (the entry
  agent starts them from the input payload), adds the values its step exposes, and either passes them
  on in the header of the forwarded record, or, when the event's journey ends there (a terminal topic,
  a rejection, the dlq), adds them to ``<prefix>.<wf>.drift-values``: the values of the events a batch
  ends, per source partition, travel in one message (a JSON array, in order; ``DriftTap.batched``), keyed
  by that source (``<topic>:<partition>``); when records of the batch went on to the next hop, its last
  message says how far in event time (header ``dwf-drift-progress``; an empty array if none ended there)
  and the messages before it, if the values were cut, are marked ``dwf-drift-forwarded``;
* that topic has one partition, so one drift agent sees every event. The sources interleave there a batch
  at a time (under a backlog a message spans hours of event time), so before each message's events the
  agent names its source and arrival time (``DriftObserver.from_source``: the key, the message's
  timestamp) and the windows close at the lowest of the sources' watermarks (drift/windows.py: expected
  sources, ``hop_sources``, wait to be heard from; a silent one stops counting after an idle time,
  timed by the messages without a progress header: the others' records are in flight at a later hop; a
  progress header moves the source's watermark without an event: ``DriftObserver.progress``). It
  counts each message's events as one run (``DriftObserver.observe_many``: what ``observe`` once per event
  gives, in order) and sends each closed window's DriftRecord (Avro) to ``<prefix>.<wf>.drift`` and its
  audit rows to the audit topic.
  Then metrics: ``dwf_drift_psi`` per scored window, ``dwf_drift_alerts_total{workflow,monitor,level}`` and
  one log line (``drift/alerts.py``) per warn/alert window, ``dwf_drift_late_events_total``.

Why once per event and not a message per step: ``DriftMonitor.observe`` counts the *call* against the
window tracker (a late call is counted and audited as one late event) and moves the watermark, so
partial calls would count one late event several times, and a value from a late step would arrive after
the watermark moved on and be dropped as late where the local runtime counted it.

The state (windows, watermark, reference, the drift audit chain head) lives in a changelog-backed faust
table (``streams/kafka/table_state.py``); its changes go into the same section as the drift agent's
outputs and offset, so under exactly-once a worker killed mid-window restarts with the counts of exactly
the messages it committed.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import fastavro
import orjson

from dana_workflows.core.clock import wall_clock_us
from dana_workflows.drift.alerts import log_window
from dana_workflows.drift.observer import DriftObserver, DriftReport
from dana_workflows.drift.windows import event_time_us
from dana_workflows.processors.executor import StepResult
from dana_workflows.processors.pipeline import ENTRY, Node
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.serde import PoisonMessageError
from dana_workflows.streams.kafka.agent_loop import AgentStats, Batch
from dana_workflows.streams.kafka.context import AgentContext, Out
from dana_workflows.streams.kafka.hops import hop_boundaries
from dana_workflows.streams.kafka.table_state import TableState
from dana_workflows.streams.kafka.wire import header_map
from dana_workflows.streams.topology import DRIFT, topic_name

if TYPE_CHECKING:
    from dana_workflows.streams.prometheus import Metrics

log = logging.getLogger(__name__)

H_DRIFT = "dwf-drift"
H_PROGRESS = "dwf-drift-progress"  # on a drift-values message: its source passed this event time (us)
# on the messages before the last of a batch cut in several whose source forwarded records (the last has
# H_PROGRESS): they are no sign that another source is idle either (drift/windows.py, idleness)
H_FORWARDED = "dwf-drift-forwarded"
VALUES_BOUNDARY = "drift-values"
_HEADER = struct.Struct(">bI")

Sends = list[tuple[str, bytes, list[tuple[str, bytes]] | None]]  # topic, value, headers
VALUES_MESSAGE_BYTES = 256 * 1024  # a drift-values message is cut here (well below the broker's limit)


class DriftTap:
    """The step agents' side: carry an event's monitored values to the end of its journey."""

    def __init__(self, ctx: AgentContext, observer: DriftObserver) -> None:
        self.ctx = ctx
        self.observer = observer
        self.time_field = observer.time_field
        self.values_topic = topic_name(ctx.workflow, VALUES_BOUNDARY, ctx.options.prefix)
        self.missing = 0  # records without the header (produced before drift was declared): not counted
        # per source partition, the values of the events whose journeys ended in its records, in order,
        # until the batch's sends go out (``batched``)
        self._ended: dict[tuple[str, int], list[dict[str, Any]]] = {}
        # per source partition, the carried values of the batch's last record it forwarded (``ended``)
        self._forwarded: dict[tuple[str, int], dict[str, Any]] = {}

    def carried(self, node: Node, env: Envelope, msg: Any) -> dict[str, Any] | None:
        """The values a record brings to its hop: from the input payload at the entry, else its header."""
        if node.input == ENTRY:
            values: dict[str, Any] = {}
            self.observer.values(values, env.payload, None)
            carried: dict[str, Any] = {"v": values, "p": env.produced_at}
            if self.time_field is not None:
                carried["t"] = env.payload.get(self.time_field)
            return carried
        raw = header_map(msg.headers).get(H_DRIFT)
        if raw is None:
            self.missing += 1
            if self.missing == 1:
                log.warning("%s: a record without a %s header: not counted in drift", node.path, H_DRIFT)
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    def passed(self, node: Node, result: StepResult, carried: dict[str, Any]) -> None:
        """A step of the hop is done: when it forwarded the event, add the values the step exposes (a
        step no monitor watches exposes none: most steps of a hop, skipped without a call)."""
        if node.path in self.observer.steps and result.forwarded:
            self.observer.values(carried["v"], result.envelope.payload, node.path)

    def ended(
        self, carried: dict[str, Any], result: StepResult, sends: Sends, source: tuple[str, int]
    ) -> None:
        """The sends of a record's hop (from ``source``, its topic and partition), before they go out: the
        values ride on in the header of the record forwarded to the next step's topic, or, where the
        event's journey ends (a terminal topic, a rejection, the dlq), wait for the batch's drift-values
        message of ``source`` (``batched``)."""
        if result.edge is not None and result.edge.node is not None:
            target = self.ctx.topic(result.edge.boundary)
            for i, (topic, value, headers) in enumerate(sends):
                if topic == target:  # absent when the payload did not fit the next schema (dlq)
                    sends[i] = (topic, value, [*(headers or ()), (H_DRIFT, values_json(carried))])
                    self._forwarded[source] = carried  # a dict set: the time is read once a batch
                    return
        ended = self._ended.get(source)
        if ended is None:
            ended = self._ended[source] = []
        ended.append(carried)

    def _progress(self, source: tuple[str, int]) -> list[tuple[str, bytes]] | None:
        """The header saying how far in event time ``source`` got with the records it forwarded to the
        next hop (``H_PROGRESS``: the last one's event time, where the partition's reading stands), so a
        hop where no journey ends (a middle step of the per-step layout) still moves its watermark and
        does not hold the windows back. None: nothing forwarded, or its time is unusable."""
        carried = self._forwarded.pop(source, None)
        if carried is None:
            return None
        tf = self.time_field
        try:
            t = event_time_us(int(carried["p"]), time_payload(carried, tf), tf)
        except ValueError:  # no usable time: the drift agent skips the event as well
            return None
        return [(H_PROGRESS, str(t).encode())]

    def batched(self, topic: str, partition: int, outs: list[Out]) -> list[Out]:
        """The sends of a batch's records from one source partition, with the values of the events whose
        journeys ended there (``ended``) as one drift-values message (a JSON array, in the order the
        records were handled; cut at ``VALUES_MESSAGE_BYTES``) instead of one message per event: a message
        per event cost the worker a produce and a consume (faust's delivery) per event, and a JSON
        encoding per event ~2.5 µs more than one per batch (docs/performance.md)."""
        events = self._ended.pop((topic, partition), None)
        key = f"{topic}:{partition}".encode()
        last = self._progress((topic, partition))  # on the batch's last message, after all of its events
        if not events:
            return outs if last is None else [*outs, (self.values_topic, key, b"[]", last)]
        whole = values_json(events)
        if len(whole) - 1 < VALUES_MESSAGE_BYTES:  # -1: the cut counts each event with one separator
            return [*outs, (self.values_topic, key, whole, last)]
        kept = list(outs)
        parts: list[bytes] = []
        size = 0
        earlier = None if last is None else [(H_FORWARDED, b"1")]
        for event in events:
            part = values_json(event)
            parts.append(part)
            size += len(part) + 1
            if size >= VALUES_MESSAGE_BYTES:
                kept.append((self.values_topic, key, b"[" + b",".join(parts) + b"]", earlier))
                parts, size = [], 0
        if parts:
            kept.append((self.values_topic, key, b"[" + b",".join(parts) + b"]", last))
        elif last is not None:
            kept[-1] = (*kept[-1][:3], last)
        return kept


def drift_values(data: bytes) -> list[dict[str, Any]]:
    """The events' values in one drift-values message: a JSON array of them (one per event, in order),
    or one object (a message from a worker before batching). ValueError when it is neither."""
    parsed = json.loads(data)
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("v"), dict):
            raise ValueError("each event's values must be an object with a 'v' object")
        int(item["p"])  # KeyError / TypeError / ValueError: no admission time
    return items


class DriftAgent:
    """The drift agent: one partition of drift values in, drift records and audit rows out."""

    def __init__(self, ctx: AgentContext, tap: DriftTap, metrics: Metrics | None) -> None:
        self.ctx = ctx
        self.tap = tap
        self.metrics = metrics
        self.workflow = ctx.workflow
        self.table = ctx.app.Table(
            "drift",
            partitions=1,
            key_type=bytes,
            value_type=bytes,
            help="drift windows, watermark, reference and audit chain head of the workflow",
        )
        self.state = TableState(self.table)
        self.observer = DriftObserver(ctx.pipeline.workflow, self.state)
        self.records_topic = ctx.topology.topic(DRIFT)
        self.records_sid = ctx.topology.schema_id(DRIFT)
        self.records_schema = ctx.topology.registry.parsed(self.records_sid)
        self.stats = ctx.agents.stats[f"<{DRIFT}>"] = AgentStats(tap.values_topic)
        self.sources = hop_sources(ctx)
        self._expected = False  # the hop sources told to the observer (at the first keyed message)
        self.windows = 0
        self.alerts: list[str] = []
        self.late = 0
        if metrics is not None:  # the counters exist at 0 from the start, for increase() and rate()
            metrics.drift_monitors(self.workflow, [m.id for m in ctx.pipeline.workflow.drift.monitors])
        ctx.add_agent(ctx.raw_topic(tap.values_topic, partitions=1), "drift", self.stats, self._each)

    def _encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, self.records_sid))
        fastavro.schemaless_writer(buf, self.records_schema, record)
        return buf.getvalue()

    async def handle(self, msg: Any) -> None:
        await self._each([msg])

    async def _each(self, batch: Batch) -> None:
        """Each message's events counted as one run (``observe_many``: ``observe`` once per event, in order);
        then one section for the batch: its audit rows (ahead of the rest), its drift records, the table's
        changes (each changed key once, table_state.py) and its offsets. Under exactly-once that is one
        transaction, so a restart counts exactly the messages whose offsets were committed."""
        committer = self.ctx.committer
        observed: list[tuple[Any, list[DriftReport]]] = []
        self.state.discard()
        # the hop sources are told to the observer in the state's changes of a batch: if it raises
        # before its section is done, those changes are lost and the next batch must tell them again
        expected = self._expected
        tf = self.tap.time_field
        # at-least-once: rows must hash the same when redelivered, so the clock is the event's
        deterministic = self.ctx.deterministic
        observe_many = self.observer.observe_many
        try:
            for msg in batch:
                if committer.stale(msg):  # delivered twice around a rebalance (commit.py)
                    continue
                try:
                    events = drift_values(msg.value)
                    headers = header_map(getattr(msg, "headers", None))
                    progress = headers.get(H_PROGRESS)
                    passed = None if progress is None else int(progress)
                except (ValueError, KeyError, TypeError) as exc:
                    poison = PoisonMessageError(f"not a drift values message: {exc}", msg.value)
                    await self.ctx.send_poison(msg, poison)
                    continue
                self._from_source(msg, forwarded=passed is not None or H_FORWARDED in headers)
                runs = []
                for carried in events:
                    produced_at = int(carried["p"])
                    clock_us = produced_at if deterministic else wall_clock_us()
                    # the values as decoded: this message's own dict, read by observe_many and kept nowhere
                    runs.append((carried["v"], time_payload(carried, tf), produced_at, clock_us))
                # one run per message: its events' values counted into each window at once (observe_many)
                reports = observe_many(runs)
                if passed is not None:  # the source's records went on up to this event time
                    reports.append(
                        self.observer.progress(passed, passed if deterministic else wall_clock_us())
                    )
                observed.append((msg, reports))
            if not observed:
                return
            first = observed[0][0]  # drift-values has one partition: the batch is one source partition
            done = [report for _, reports in observed for report in reports]
            async with committer.section(first.topic, first.partition) as section:
                # ahead of the records and the table's changelog (commit.py)
                await section.audit([row for report in done for row in report.rows])
                key = self.workflow.encode()
                for report in done:
                    for record in report.records:
                        await section.send(self.records_topic, key, self._encode(record.to_record()))
                await self.state.flush(section)
                for msg, _ in observed:
                    section.done(msg.offset)
        except BaseException:
            self.state.discard()
            self._expected = expected
            raise
        late = 0
        for report in done:
            late += len(report.late)
            if report.records:
                self.published(report)
        if late:  # one count for the batch: a labels() lookup per late event cost ~0.5 µs an event
            self.late += late
            if self.metrics is not None:
                self.metrics.drift_late(self.workflow, late)

    def _from_source(self, msg: Any, forwarded: bool) -> None:
        """Tell the observer whose events follow: the message's key names the topic partition whose
        records ended them (``DriftTap.batched``), its timestamp when it was sent (the arrival time the
        idleness rule counts in: the same on a redelivery, unlike the wall clock). A message without a key
        (a worker before batching) is the one source ""."""
        key = getattr(msg, "key", None)
        arrival = arrival_us(msg)
        if key and not self._expected:
            self.observer.expect(self.sources, arrival)
            self._expected = True
        self.observer.from_source(key.decode() if key else "", arrival, forwarded)

    def published(self, report: DriftReport) -> None:
        """After the report's records and rows were sent: the windows it closed counted, their metrics,
        one log line per warn/alert (its late events are counted per batch, by ``_each``)."""
        metrics = self.metrics
        for record in report.records:
            self.windows += 1
            if record.psi is not None and metrics is not None:
                metrics.drift(self.workflow, record.monitor, record.psi, record.alert_psi)
            line = log_window(record)  # the same line as the local runtime's (drift/alerts.py)
            if line is not None:
                self.alerts.append(line)
                if metrics is not None:
                    metrics.drift_alert(self.workflow, record.monitor, record.level)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def values_json(value: Any) -> bytes:
    """Drift values as JSON, the one encoding of all three places they are written: an event's values
    carried in the ``dwf-drift`` header of a forwarded record, a batch's values as one array, and one
    event's values in a message the array is cut into. ``json.loads`` reads it back as it reads ``_dumps``
    (the standard encoder's compact, sorted JSON) of the same value. By orjson (~10x faster than the
    standard encoder, ~2 µs an event in a worker: docs/performance.md, session 13), except where orjson
    would differ: it writes NaN and infinities as null, where the standard encoder writes NaN/Infinity and
    the drift agent reads them back as such, so a value whose encoding has a null anywhere (a NaN, a None,
    or "null" in a text) is encoded by the standard encoder, as is one orjson refuses (an integer beyond 64
    bits, a non-str key). The bytes may differ from ``_dumps`` (floats in shortest form such as 1e-7 for
    1e-07, non-ASCII text as UTF-8), the values read do not."""
    try:
        # datetimes and dataclasses passed through: the standard encoder refuses them, so orjson must too
        # (the fallback below then raises as ``_dumps`` does, never an ISO string)
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _dumps(value)
    return data if b"null" not in data else _dumps(value)


def time_payload(carried: Mapping[str, Any], time_field: str | None) -> dict[str, Any]:
    """What ``event_time_us`` reads of a carried value (its event time under the workflow's time field):
    one home for the tap's progress and the agent's events."""
    return {time_field: carried.get("t")} if time_field is not None else {}


def arrival_us(msg: Any) -> int:
    """When a drift-values message was sent, in microseconds: a faust message's timestamp is in seconds
    (a float), a record the committer hands back from the broker's copy (an aiokafka ConsumerRecord, for
    one faust dropped) has its milliseconds (an int); the wall clock for a message without one."""
    stamp = getattr(msg, "timestamp", None)
    if isinstance(stamp, float):
        return round(stamp * 1_000_000)
    if isinstance(stamp, int):
        return stamp * 1000
    return wall_clock_us()


def hop_sources(ctx: AgentContext) -> list[str]:
    """The drift-values sources a worker's step agents send from: each hop topic's partitions, named as
    ``DriftTap.batched`` keys their messages."""
    hops = hop_boundaries(ctx.pipeline, ctx.options.fuse, ctx.options.llm_hops)
    topics = sorted(ctx.topic(boundary) for boundary in hops)
    return [f"{topic}:{p}" for topic in topics for p in range(ctx.options.partitions)]


def attach_drift(ctx: AgentContext, metrics: Metrics | None) -> tuple[DriftTap, DriftAgent] | None:
    """The tap and the agent when the workflow declares drift monitors, else None."""
    ir = ctx.pipeline.workflow
    if not ir.drift.monitors:
        return None
    # the tap's observer only collects values (no state); the agent's owns the table
    tap = DriftTap(ctx, DriftObserver(ir, {}))
    return tap, DriftAgent(ctx, tap, metrics)
