"""A pinned baseline: the reference distributions of a workflow's drift monitors, in a JSON file.

``dana-wf drift baseline`` runs events through the workflow, feeds each event's monitor values to a
BaselineBuilder and writes the result; a monitor with ``baseline: <file>`` then compares every window
with it from the first window on, instead of learning its reference from the first K windows.
Numeric edges are fixed in the file, so the bins never move under a running monitor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dana_workflows.drift.features import LogSketch, check_edges
from dana_workflows.drift.monitor_config import MonitorConfig, configs_from_ir, make_extractor
from dana_workflows.workflow.ir import DriftIR

FORMAT = "dana-wf-drift-baseline"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class MonitorBaseline:
    monitor: str
    field: str
    feature: str
    count: int  # events
    counts: dict[str, int]  # bin key -> count (numeric keys are bin indexes over `edges`)
    edges: tuple[float, ...] | None = None  # numeric only
    buckets: int | None = None  # text only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "feature": self.feature,
            "count": self.count,
            "counts": dict(sorted(self.counts.items())),
        }
        if self.edges is not None:
            out["edges"] = list(self.edges)
        if self.buckets is not None:
            out["buckets"] = self.buckets
        return out


@dataclass(frozen=True, slots=True)
class Baseline:
    workflow: str
    source: str  # where the events came from
    events: int
    monitors: dict[str, MonitorBaseline]
    created_at: str = ""  # ISO time, informational

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "workflow": self.workflow,
            "source": self.source,
            "created_at": self.created_at,
            "events": self.events,
            "monitors": {k: v.to_json() for k, v in sorted(self.monitors.items())},
        }


class BaselineBuilder:
    """Counts every monitor's values over a whole file of events (no windows: one pooled reference)."""

    def __init__(self, workflow: str, drift: DriftIR) -> None:
        self.workflow = workflow
        self._configs = configs_from_ir(drift)
        self._sketch = LogSketch()
        self._extract = {c.id: make_extractor(c, self._sketch) for c in self._configs}
        self._counts: dict[str, dict[str, int]] = {c.id: {} for c in self._configs}
        self._n: dict[str, int] = {c.id: 0 for c in self._configs}
        self.events = 0

    def add(self, values: Mapping[str, Any]) -> None:
        """One event's monitor values (monitor id -> value); monitors it did not reach are absent."""
        self.events += 1
        for cfg in self._configs:
            if cfg.id in values:
                counts = self._counts[cfg.id]
                self._n[cfg.id] += 1
                for key in self._extract[cfg.id](values[cfg.id]):
                    counts[key] = counts.get(key, 0) + 1

    def add_all(self, events: Iterable[Mapping[str, Any]]) -> BaselineBuilder:
        for values in events:
            self.add(values)
        return self

    def build(self, source: str, created_at: str = "") -> Baseline:
        monitors: dict[str, MonitorBaseline] = {}
        for cfg in self._configs:
            if self._n[cfg.id] == 0:
                raise ValueError(
                    f"drift baseline: monitor {cfg.id!r} (field {cfg.field!r}) saw no values in {source}; "
                    "check the field name or give events that reach its step"
                )
            counts = self._counts[cfg.id]
            edges: tuple[float, ...] | None = None
            if cfg.feature == "numeric":
                edges = cfg.edges
                if edges is None:
                    edges = self._sketch.quantile_edges(counts, cfg.quantile_bins)
                    counts = self._sketch.fold(counts, edges)
            monitors[cfg.id] = MonitorBaseline(
                monitor=cfg.id,
                field=cfg.field,
                feature=cfg.feature,
                count=self._n[cfg.id],
                counts=dict(sorted(counts.items())),
                edges=edges,
                buckets=cfg.buckets if cfg.feature == "text" else None,
            )
        return Baseline(self.workflow, source, self.events, monitors, created_at)


def write_baseline(path: Path, baseline: Baseline) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _bad(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: {what}; re-create it with `dana-wf drift baseline`")


def read_baseline(path: Path) -> Baseline:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"{path}: drift baseline file not found; create it with `dana-wf drift baseline` "
            "or remove `baseline:` from the monitor"
        ) from None
    except json.JSONDecodeError as e:
        raise _bad(path, f"not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(path, f"not a drift baseline (expected format {FORMAT!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise _bad(
            path, f"baseline format version {doc.get('version')!r}, this engine reads {FORMAT_VERSION}"
        )
    monitors: dict[str, MonitorBaseline] = {}
    try:
        for mid, m in doc["monitors"].items():
            edges = m.get("edges")
            counts = {str(k): int(v) for k, v in m["counts"].items()}
            if not counts or int(m["count"]) <= 0:
                raise _bad(path, f"monitor {mid!r} has no counts")
            monitors[mid] = MonitorBaseline(
                monitor=mid,
                field=str(m["field"]),
                feature=str(m["feature"]),
                count=int(m["count"]),
                counts=counts,
                edges=None if edges is None else check_edges(edges, f"{path}: monitor {mid!r}"),
                buckets=None if m.get("buckets") is None else int(m["buckets"]),
            )
        return Baseline(
            workflow=str(doc["workflow"]),
            source=str(doc.get("source", "")),
            events=int(doc.get("events", 0)),
            monitors=monitors,
            created_at=str(doc.get("created_at", "")),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise _bad(path, f"missing or malformed entry ({e})") from None


def check_against(cfg: MonitorConfig, base: MonitorBaseline, where: str) -> None:
    """A baseline must describe the monitor that uses it: same feature, same text buckets, same edges."""
    if base.feature != cfg.feature:
        raise ValueError(
            f"{where}: monitor {cfg.id!r} is {cfg.feature} but its baseline holds a {base.feature} feature; "
            "re-create the baseline after changing the monitor"
        )
    if cfg.feature == "text" and base.buckets != cfg.buckets:
        raise ValueError(
            f"{where}: monitor {cfg.id!r} hashes text into {cfg.buckets} buckets, its baseline into "
            f"{base.buckets}; re-create the baseline or set `buckets: {base.buckets}`"
        )
    if cfg.feature == "numeric":
        if base.edges is None:
            raise ValueError(f"{where}: numeric monitor {cfg.id!r} has a baseline without bin edges")
        if cfg.edges is not None and cfg.edges != base.edges:
            raise ValueError(
                f"{where}: monitor {cfg.id!r} declares bins {list(cfg.edges)} but its baseline was built "
                f"with {list(base.edges)}; re-create the baseline or drop `bins:` to use the baseline's"
            )


def load_baselines(drift: DriftIR, base_dir: Path) -> dict[str, MonitorBaseline]:
    """The pinned baselines the monitors name, read once (paths relative to the spec's folder)."""
    out: dict[str, MonitorBaseline] = {}
    files: dict[Path, Baseline] = {}
    for cfg in configs_from_ir(drift):
        if cfg.baseline is None:
            continue
        path = Path(cfg.baseline)
        path = path if path.is_absolute() else base_dir / path
        if path not in files:
            files[path] = read_baseline(path)
        base = files[path].monitors.get(cfg.id)
        if base is None:
            raise ValueError(
                f"{path}: no baseline for monitor {cfg.id!r} (it has {sorted(files[path].monitors)}); "
                "re-create it with `dana-wf drift baseline`"
            )
        check_against(cfg, base, str(path))
        out[cfg.id] = base
    return out


__all__ = [
    "Baseline",
    "BaselineBuilder",
    "MonitorBaseline",
    "check_against",
    "load_baselines",
    "read_baseline",
    "write_baseline",
]
