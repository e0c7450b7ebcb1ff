"""Feed a workflow's drift monitors from the runtime and turn what they report into records and audit rows.

Runtime-neutral: the local runtime calls it inline; any runtime that sees an event's whole journey
can. Drift audit rows form their own hash chain (run ``<workflow>.drift``), whose head is kept in
the same state mapping as the windows, so a restarted worker continues it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dana_workflows.drift.features import HashedTokens, carried_value
from dana_workflows.drift.monitor import DriftMonitor
from dana_workflows.drift.records import DriftRecord, LateEvent
from dana_workflows.drift.windows import event_time_us
from dana_workflows.processors.audit_trail import transition
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow.ir import WorkflowIR

DRIFT_BOUNDARY = "drift"
_CHAIN_KEY = "drift|chain"
TEXT_CHARS = HashedTokens.TEXT_CHARS


@dataclass(slots=True)
class DriftReport:
    records: list[DriftRecord] = field(default_factory=list)
    late: list[LateEvent] = field(default_factory=list)
    rows: list[AuditRow] = field(default_factory=list)
    skipped: int = 0  # events without a usable event time: audited, not counted


def drift_run_id(workflow: str) -> str:
    """The run id of a workflow's drift chain."""
    return f"{workflow}.drift"


def continue_chain(state: MutableMapping[str, Any], next_seq: int, head: str) -> None:
    """Make the drift chain kept in `state` continue after a stored row (seq next_seq - 1, hash head):
    a process that starts without the state (the local runtime) links to what an earlier one stored."""
    state[_CHAIN_KEY] = [next_seq, head]


_NOTHING = DriftReport()  # the common case: this event closed no window (never mutated)


class DriftObserver:
    def __init__(self, ir: WorkflowIR, state: MutableMapping[str, Any]) -> None:
        base = Path(ir.source).parent if not ir.source.startswith("<") else Path(".")
        self.ir = ir
        self.state = state
        self.monitor = DriftMonitor(ir.name, ir.drift, state, base_dir=base)
        self.time_field = ir.drift.window.time_field
        # per observed step: (monitor id, field) pairs, so collecting an event's values is a few lookups
        self.fields_at: dict[str | None, tuple[tuple[str, str, str, int], ...]] = {}
        for m in ir.drift.monitors:
            entry = (m.id, m.field, m.feature, m.buckets)
            self.fields_at[m.step] = (*self.fields_at.get(m.step, ()), entry)
        self.steps = frozenset(self.fields_at)

    @classmethod
    def for_workflow(cls, ir: WorkflowIR, state: MutableMapping[str, Any]) -> DriftObserver | None:
        return cls(ir, state) if ir.drift.monitors else None

    def values(self, into: dict[str, Any], payload: Mapping[str, Any], step: str | None) -> None:
        """Collect the monitored values an event shows after `step` (None: the admitted input)."""
        pairs = self.fields_at.get(step)
        if pairs:
            for monitor_id, name, feature, buckets in pairs:
                value = payload.get(name)
                # a long string is carried as what the monitor keys it by (features.carried_value)
                if type(value) is str and len(value) > TEXT_CHARS:
                    value = carried_value(value, feature, buckets)
                into[monitor_id] = value

    def expect(self, sources: Iterable[str], arrival_us: int) -> None:
        """The sources that will send: windows wait for each until it has sent or gone idle."""
        self.monitor.expect(sources, arrival_us)

    def from_source(self, source: str, arrival_us: int, forwarded: bool = False) -> None:
        """The next ``observe`` calls are events of ``source`` in its order, arrived at ``arrival_us``:
        windows close at the lowest watermark of the sources (drift/windows.py; ``forwarded``: its batch
        sent records on to a later hop). The local runtime, one source, never calls it."""
        self.monitor.from_source(source, arrival_us, forwarded)

    def observe(
        self, values: Mapping[str, Any], input_payload: Mapping[str, Any], produced_at: int, clock_us: int
    ) -> DriftReport:
        """One event's whole journey seen: count it, and report windows it closed."""
        try:
            when = event_time_us(produced_at, input_payload, self.time_field)
        except ValueError as exc:  # one event without a usable time must not stop the run
            return self._skipped(str(exc), clock_us)
        items = self.monitor.observe(values, when)
        return self._report(items, clock_us) if items else _NOTHING  # most events close nothing

    def observe_many(
        self, events: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], int, int]]
    ) -> list[DriftReport]:
        """``observe`` of each ``(values, input_payload, produced_at, clock_us)`` in order, counted as one
        run (``DriftMonitor.observe_many``): the reports that are not empty, in order, with the same
        records, late events and rows (the chain in the same order) as one call per event."""
        timed: list[tuple[Mapping[str, Any], int]] = []
        positions: list[int] = []  # of the events in `timed`
        # event position -> what it gave: the reason it was skipped, or the monitor's items
        found: dict[int, list[DriftRecord | LateEvent] | str] = {}
        tf = self.time_field
        for i, (values, payload, produced_at, _) in enumerate(events):
            try:
                timed.append((values, event_time_us(produced_at, payload, tf)))
            except ValueError as exc:  # one event without a usable time must not stop the run
                found[i] = str(exc)
                continue
            positions.append(i)
        found.update((positions[j], items) for j, items in self.monitor.observe_many(timed))
        out = []
        for i, items in sorted(found.items()):
            clock_us = events[i][3]
            out.append(
                self._skipped(items, clock_us) if isinstance(items, str) else self._report(items, clock_us)
            )
        return out

    def progress(self, t_us: int, clock_us: int) -> DriftReport:
        """The current source will send no event before ``t_us`` (its events went elsewhere up to there):
        its watermark moves on without an event, closing the windows that waited only for it."""
        return self._report(self.monitor.advance(t_us), clock_us)

    def _skipped(self, reason: str, clock_us: int) -> DriftReport:
        chain = self._chain()
        chain.event_id = f"{self.ir.name}.drift/skipped/{chain.chain_seq}"
        row = transition(chain, "drift_skipped", DRIFT_BOUNDARY, clock_us, decision="skipped", reason=reason)
        self.state[_CHAIN_KEY] = [chain.chain_seq, chain.chain_hash]
        return DriftReport(rows=[row], skipped=1)

    def flush(self, clock_us: int) -> DriftReport:
        return self._report(list(self.monitor.flush()), clock_us)

    def _report(self, items: list[DriftRecord | LateEvent], clock_us: int) -> DriftReport:
        if not items:
            return _NOTHING
        report = DriftReport()
        chain = self._chain()
        for item in items:
            if isinstance(item, DriftRecord):
                report.records.append(item)
                chain.event_id = f"{self.ir.name}.drift/{item.monitor}/{item.window_start_us}"
                report.rows.append(
                    transition(
                        chain,
                        "drift",
                        item.monitor,
                        clock_us,
                        decision=item.level,
                        reason=item.summary() if item.level != "ok" else "",
                        details=item.to_record(),
                    )
                )
            else:
                report.late.append(item)
                chain.event_id = f"{self.ir.name}.drift/late/{item.event_time_us}"
                report.rows.append(
                    transition(
                        chain,
                        "drift_late",
                        DRIFT_BOUNDARY,
                        clock_us,
                        decision="late",
                        reason="event arrived after its windows closed",
                        details=item.to_record(),
                    )
                )
        self.state[_CHAIN_KEY] = [chain.chain_seq, chain.chain_hash]
        return report

    def _chain(self) -> Envelope:
        seq, head = self.state.get(_CHAIN_KEY, [0, GENESIS_HASH])
        run = drift_run_id(self.ir.name)
        return Envelope(
            run,
            run,
            self.ir.name,
            self.ir.version,
            DRIFT_BOUNDARY,
            {},
            chain_seq=int(seq),
            chain_hash=str(head),
        )
