"""DriftMonitor: counts each monitored value into its event-time windows and scores every closed window.

All state lives in the MutableMapping it is given, as JSON values under string keys, and every change
is a fresh assignment: the local runtime passes a dict, the Kafka runtime a changelog-backed faust
table, and a worker restarted over the same table continues the open windows' counts where they were.
The monitor caches only what never changes once written (a frozen reference, a pinned baseline)
and memos of pure functions (state key strings, text keys).

State keys (``p`` is the key prefix, one per workflow):
  ``p wm``                 watermark: the largest event time seen, or with sources the lowest of the
                           counting sources' (int, microseconds; windows.py)
  ``p src``                with sources: each source's last arrival time (``{source: int}``)
  ``p s|<source>``         with sources: that source's watermark (int)
  ``p clk``                with sources: the idle clock, the latest arrival of a source that forwarded
                           nothing to a later hop (int)
  ``p open``               starts of the open windows (sorted list of ints)
  ``p late``               late events seen (int)
  ``p w|<monitor>|<start>`` one window's counts: ``{"n": events, "c": {bin key: count}, "s": sketch?}``
  ``p ref|<monitor>``      the reference being built or frozen: ``{"n", "c", "windows", "frozen", "edges"}``

Call ``observe`` once per event, with the values of every monitor that event reached (a monitor after
a step the event never reached is simply absent). Records come out in window order, then monitor order,
so the same input gives the same records in every runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from dana_workflows.drift.baseline import MonitorBaseline, check_against, load_baselines
from dana_workflows.drift.divergence import compare, min_events
from dana_workflows.drift.features import (
    OTHER_KEY,
    HashedTokens,
    LogSketch,
    bin_label,
    bucket_label,
)
from dana_workflows.drift.monitor_config import TOP_MOVERS, MonitorConfig, configs_from_ir, make_key
from dana_workflows.drift.records import DriftRecord, LateEvent, Level, Mover
from dana_workflows.drift.windows import WindowDefinition, WindowTracker
from dana_workflows.workflow.ir import DriftIR

DEFAULT_PREFIX = "drift|"
_ABSENT = object()  # a monitor the event never reached (None is a value: it counts as <null>)


class _Watch:
    """One monitor's window counts and reference, over the shared state."""

    def __init__(
        self,
        workflow: str,
        cfg: MonitorConfig,
        state: MutableMapping[str, Any],
        prefix: str,
        definition: WindowDefinition,
        baseline: MonitorBaseline | None,
    ) -> None:
        self.workflow = workflow
        self.cfg = cfg
        self.id = cfg.id
        self._state = state
        self._w_prefix = f"{prefix}w|{cfg.id}|"
        self._ref_key = f"{prefix}ref|{cfg.id}"
        self._def = definition
        self._sketch = LogSketch()
        self._baseline = baseline
        # Filled by load(): immutable once known.
        self.edges: tuple[float, ...] | None = cfg.edges
        self.ref_counts: dict[str, int] | None = None
        self.ref_n = 0
        # value -> its one key (categorical, numeric); None: text, whose keys come from _tokens
        self._key = make_key(cfg, self._sketch)
        self._tokens = HashedTokens(cfg.buckets)
        self._wkeys: dict[int, str] = {}  # window start -> state key, so no per-event str(start)

    def load(self) -> None:
        """Read what is frozen: a pinned baseline, or a reference frozen before a restart."""
        if self._baseline is not None:
            self._freeze(dict(self._baseline.counts), self._baseline.count, self._baseline.edges)
            return
        ref = self._state.get(self._ref_key)
        if ref is not None and ref.get("frozen"):
            edges = ref.get("edges")
            self._freeze(dict(ref["c"]), int(ref["n"]), None if edges is None else tuple(edges))

    def _freeze(self, counts: dict[str, int], n: int, edges: tuple[float, ...] | None) -> None:
        self.ref_counts = counts
        self.ref_n = n
        if self.cfg.feature == "numeric":
            self.edges = edges
            self._key = make_key(self.cfg, self._sketch, edges)

    @property
    def sketching(self) -> bool:
        return self.cfg.feature == "numeric" and self.edges is None

    # -- per event -------------------------------------------------------------------------------------

    def add(self, value: Any, starts: Sequence[int]) -> None:
        """Count one event's value into the windows at ``starts`` (the per-event ``observe``)."""
        one = self._key
        self._tally(starts, (one(value),) if one is not None else self._tokens.keys(value), 1)

    def count(self, starts: Sequence[int], values: Sequence[Any]) -> None:
        """Count a run of events' values, in their order, into the windows at ``starts`` (observe_many)."""
        one = self._key
        if one is not None:
            keys: Sequence[str] = list(map(one, values))
        else:
            keys = [key for value in values for key in self._tokens.keys(value)]
        self._tally(starts, keys, len(values))

    def _tally(self, starts: Sequence[int], keys: Sequence[str], n: int) -> None:
        """The one home of the counting: ``n`` events whose ``keys`` come in order, into each window at
        ``starts``. A key the window lacks is taken while the window has fewer than ``max_categories`` keys,
        else counted as ``<other>``: one event at a time or a run at once, each key is decided where it
        first shows. ``add`` keys an event once for all its windows (a hopping window's event is in
        several); ``observe_many`` gathers values per window, so ``count`` keys them once a window."""
        state = self._state
        cap = self.cfg.max_categories
        for start in starts:
            wkey = self._wkeys.get(start)
            if wkey is None:
                wkey = self._window_key(start)
            window = state.get(wkey)
            if window is None:
                window = {"n": 0, "c": {}, "s": True} if self.sketching else {"n": 0, "c": {}}
            elif self.edges is not None and window.get("s"):
                window = self._folded(window)
            window["n"] += n
            counts = window["c"]
            for key in keys:
                c = counts.get(key)  # one lookup when the key is known (the common case)
                if c is not None:
                    counts[key] = c + 1
                elif len(counts) < cap:
                    counts[key] = 1
                else:
                    counts[OTHER_KEY] = counts.get(OTHER_KEY, 0) + 1
            state[wkey] = window

    def _window_key(self, start: int) -> str:
        if len(self._wkeys) >= 64:  # windows close and drop their key; this only bounds odd cases
            self._wkeys.clear()
        wkey = self._wkeys[start] = self._w_prefix + str(start)
        return wkey

    def _folded(self, window: Mapping[str, Any]) -> dict[str, Any]:
        assert self.edges is not None
        return {"n": window["n"], "c": self._sketch.fold(window["c"], self.edges)}

    # -- per closed window -----------------------------------------------------------------------------

    def close(self, start: int, closed_by: str) -> DriftRecord | None:
        self._wkeys.pop(start, None)
        window = self._state.pop(self._w_prefix + str(start), None)
        if window is None:  # no event of this monitor fell in the window
            return None
        if self.ref_counts is None:
            return self._absorb(start, window, closed_by)
        if window.get("s"):
            window = self._folded(window)
        return self._score(start, int(window["n"]), window["c"], closed_by)

    def _absorb(self, start: int, window: Mapping[str, Any], closed_by: str) -> DriftRecord:
        """A reference window: add it to the reference; freeze after the K-th."""
        ref = self._state.get(self._ref_key) or {"n": 0, "c": {}, "windows": 0, "frozen": False}
        counts: dict[str, int] = dict(ref["c"])
        for key, c in window["c"].items():
            counts[key] = counts.get(key, 0) + c
        n = int(ref["n"]) + int(window["n"])
        windows = int(ref["windows"]) + 1
        new_ref: dict[str, Any] = {"n": n, "c": counts, "windows": windows, "frozen": False}
        if windows >= self.cfg.reference_windows:
            edges = self.edges
            if self.sketching:
                edges = self._sketch.quantile_edges(counts, self.cfg.quantile_bins)
                counts = self._sketch.fold(counts, edges)
            new_ref = {"n": n, "c": counts, "windows": windows, "frozen": True}
            if edges is not None:
                new_ref["edges"] = list(edges)
            self._freeze(dict(counts), n, edges)
        self._state[self._ref_key] = new_ref
        return self._record(start, int(window["n"]), None, None, "ok", "building", 0, (), False, closed_by)

    def _score(self, start: int, n: int, counts: Mapping[str, int], closed_by: str) -> DriftRecord:
        assert self.ref_counts is not None
        cfg = self.cfg
        psi_value, js, terms = compare(self.ref_counts, counts, cfg.eps)
        bins = len(terms)
        min_count = cfg.min_count if cfg.min_count is not None else min_events(bins, cfg.warn_psi)
        below = n < min_count or self.ref_n < min_count
        level: Level = "ok"
        if not below:  # the higher of what PSI and (where thresholds are set) JS say
            level = max(
                _level(psi_value, cfg.warn_psi, cfg.alert_psi),
                _level(js, cfg.warn_js, cfg.alert_js),
                key=_SEVERITY.index,
            )
        # Largest term first, ties in key order: terms come sorted by key and the sort is stable
        # (reverse=True keeps it), which orders them as key=(-psi, key) would, without a lambda per bin.
        ranked = sorted(terms, key=itemgetter(3), reverse=True)[:TOP_MOVERS]
        movers = tuple(Mover(self._label(key), e, a, term) for key, e, a, term in ranked)
        kind = "baseline" if self._baseline is not None else "windows"
        return self._record(
            start, n, psi_value, js, level, kind, self.ref_n, movers, below, closed_by, bins, min_count
        )

    def _label(self, key: str) -> str:
        if self.cfg.feature == "numeric":
            return bin_label(key, self.edges or ())
        if self.cfg.feature == "text":
            return bucket_label(key)
        return key

    def _record(
        self,
        start: int,
        n: int,
        psi_value: float | None,
        js: float | None,
        level: Level,
        reference: Any,
        reference_count: int,
        movers: tuple[Mover, ...],
        below: bool,
        closed_by: Any,
        bins: int = 0,
        min_count: int = 0,
    ) -> DriftRecord:
        cfg = self.cfg
        return DriftRecord(
            workflow=self.workflow,
            monitor=cfg.id,
            field=cfg.field,
            feature=cfg.feature,
            step=cfg.step or "",
            window_start_us=start,
            window_end_us=self._def.end(start),
            count=n,
            psi=psi_value,
            js=js,
            level=level,
            warn_psi=cfg.warn_psi,
            alert_psi=cfg.alert_psi,
            warn_js=cfg.warn_js,
            alert_js=cfg.alert_js,
            reference=reference,
            reference_count=reference_count,
            bins=bins,
            min_count=min_count,
            below_min_count=below,
            top_movers=movers,
            closed_by=closed_by,
        )


class DriftMonitor:
    """Every drift monitor of one workflow, sharing one window definition and one watermark (over its
    sources, if the runtime names them: ``from_source``)."""

    def __init__(
        self,
        workflow: str,
        drift: DriftIR,
        state: MutableMapping[str, Any],
        *,
        baselines: Mapping[str, MonitorBaseline] | None = None,
        base_dir: Path | None = None,
        key_prefix: str = DEFAULT_PREFIX,
    ) -> None:
        """``baselines`` (monitor id -> baseline) wins; else files a monitor names are read from base_dir."""
        self.workflow = workflow
        self.definition = WindowDefinition.from_ir(drift.window)
        configs = configs_from_ir(drift)
        if baselines is None:
            baselines = load_baselines(drift, base_dir or Path("."))
        else:
            for cfg in configs:
                if cfg.id in baselines:
                    check_against(cfg, baselines[cfg.id], f"baseline for {cfg.id!r}")
                elif cfg.baseline is not None:
                    raise ValueError(
                        f"drift monitor {cfg.id!r} names the baseline {cfg.baseline!r} but none was given "
                        "for it; pass it in `baselines` or let the monitor read the file (baselines=None)"
                    )
        self._state = state
        self._prefix = key_prefix
        self._tracker = WindowTracker(self.definition, state, key_prefix)
        self._watches = tuple(
            _Watch(workflow, c, state, key_prefix, self.definition, baselines.get(c.id)) for c in configs
        )
        self._fields = tuple((w.id, w.cfg.field, w.cfg.step) for w in self._watches)
        self._loaded = False

    @property
    def monitor_ids(self) -> tuple[str, ...]:
        return tuple(w.id for w in self._watches)

    @property
    def watermark(self) -> int | None:
        return self._tracker.watermark

    @property
    def late_events(self) -> int:
        return int(self._state.get(self._prefix + "late", 0))

    def expect(self, sources: Iterable[str], arrival_us: int) -> None:
        """The sources that will send (``WindowTracker.expect``): windows wait for each until it sent."""
        self._tracker.expect(sources, arrival_us)

    def from_source(self, source: str, arrival_us: int, forwarded: bool = False) -> None:
        """The next events come from ``source``, arrived at ``arrival_us`` (``WindowTracker.from_source``):
        a runtime with several sources calls it before each run of one source's events."""
        self._tracker.from_source(source, arrival_us, forwarded)

    def values_from(self, payload: Mapping[str, Any], step: str | None = None) -> dict[str, Any]:
        """The values of the monitors that observe ``step`` (None: the input) in this payload."""
        return {mid: payload.get(field) for mid, field, at in self._fields if at == step}

    def _load(self) -> None:
        # Deferred to the first event: a faust table is only filled from its changelog after startup.
        for w in self._watches:
            w.load()
        self._loaded = True

    def observe(self, values: Mapping[str, Any], event_time_us: int) -> list[DriftRecord | LateEvent]:
        """Count one event; return the late-event report (if any) and the records of windows it closed."""
        if not self._loaded:
            self._load()
        out: list[DriftRecord | LateEvent] = []
        live, late = self._tracker.place(event_time_us)
        if late:
            out.append(self._late(event_time_us, live, late))
        if live:
            for w in self._watches:
                value = values.get(w.id, _ABSENT)
                if value is not _ABSENT:
                    w.add(value, live)
        for start in self._tracker.advance(event_time_us):
            out.extend(self._close(start, "watermark"))
        return out

    def observe_many(
        self, events: Iterable[tuple[Mapping[str, Any], int]]
    ) -> list[tuple[int, list[DriftRecord | LateEvent]]]:
        """``observe`` of each ``(values, event_time_us)`` in order, as (position, what it returned) for
        the events that returned something: the same state, records and late events. The values a
        window gets are gathered over the run (per monitor and window, in order) and counted into the
        state once (``_Watch.count``) before a window closes and at the end, instead of a read and a write
        of the window per event and monitor; the watermark's keys are read and written once
        (``WindowTracker.buffered``). A run that raises leaves the state partly changed and its values
        uncounted: the caller discards the run's changes (the drift agent's batch does, table_state.py)."""
        if not self._loaded:
            self._load()
        tracker = self._tracker
        watches = tuple(enumerate(self._watches))
        # (monitor index, window start) -> the values of the run's events in that window, in order
        pending: dict[tuple[int, int], list[Any]] = {}
        out: list[tuple[int, list[DriftRecord | LateEvent]]] = []
        with tracker.buffered():  # the watermark's keys in a plain dict for the run
            for i, (values, t) in enumerate(events):
                items: list[DriftRecord | LateEvent] = []
                live, late = tracker.place(t)
                if late:
                    items.append(self._late(t, live, late))
                if live:
                    for m, w in watches:
                        value = values.get(w.id, _ABSENT)
                        if value is not _ABSENT:
                            for start in live:
                                run = pending.get((m, start))
                                if run is None:
                                    pending[m, start] = [value]
                                else:
                                    run.append(value)
                closed = tracker.advance(t)
                if closed:  # counted before a window closes (and a reference freezes: new keys)
                    self._count_pending(pending)
                    for start in closed:
                        items.extend(self._close(start, "watermark"))
                if items:
                    out.append((i, items))
        self._count_pending(pending)
        return out

    def _count_pending(self, pending: dict[tuple[int, int], list[Any]]) -> None:
        for (m, start), values in pending.items():
            self._watches[m].count((start,), values)
        pending.clear()

    def _late(self, event_time_us: int, live: tuple[int, ...], late: tuple[int, ...]) -> LateEvent:
        """Count a late event and report it."""
        key = self._prefix + "late"
        self._state[key] = int(self._state.get(key, 0)) + 1
        return LateEvent(self.workflow, event_time_us, self._tracker.watermark or 0, late, live)

    def advance(self, t_us: int) -> list[DriftRecord | LateEvent]:
        """Move the watermark (with sources: the current source's) to ``t_us`` without an event; return
        the records of the windows that closed."""
        if not self._loaded:
            self._load()
        out: list[DriftRecord | LateEvent] = []
        for start in self._tracker.advance(t_us):
            out.extend(self._close(start, "watermark"))
        return out

    def flush(self) -> list[DriftRecord]:
        """Close every open window now: the end of a finite input (the local runtime's last step)."""
        if not self._loaded:
            self._load()
        out: list[DriftRecord] = []
        for start in self._tracker.close_all():
            out.extend(self._close(start, "flush"))
        return out

    def _close(self, start: int, closed_by: str) -> list[DriftRecord]:
        out = []
        for w in self._watches:
            record = w.close(start, closed_by)
            if record is not None:
                out.append(record)
        return out


_SEVERITY: tuple[Level, ...] = ("ok", "warn", "alert")


def _level(score: float, warn: float | None, alert: float | None) -> Level:
    """A threshold left unset never fires."""
    if alert is not None and score >= alert:
        return "alert"
    if warn is not None and score >= warn:
        return "warn"
    return "ok"
