"""Novelty against a pinned drift baseline: a value the baseline (almost) never saw raises the risk tier.

Reads the baseline file that ``dana-wf drift baseline`` writes (format ``dana-wf-drift-baseline``) as
data, by its documented format, because the drift room sits above the processors. Categorical monitors
key a value by itself, numeric ones by its bin over the file's edges (right-closed, as drift counts them).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dana_workflows.workflow.efficiency_ir import NoveltyIR

BASELINE_FORMAT = "dana-wf-drift-baseline"


class NoveltyError(ValueError):
    """A novelty check whose baseline file cannot be used."""


@dataclass(frozen=True, slots=True)
class NoveltyCheck:
    field: str
    counts: dict[str, int]
    total: int
    min_share: float
    edges: tuple[float, ...] | None  # numeric monitors only

    @classmethod
    def load(cls, spec: NoveltyIR, base_dir: Path | None) -> NoveltyCheck:
        path = Path(spec.baseline)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        where = f"risk.novelty {spec.field!r}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise NoveltyError(
                f"{where}: cannot read the baseline {path} ({exc}); make it with 'dana-wf drift baseline'"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
            raise NoveltyError(f"{where}: {path} is not a drift baseline file (format {BASELINE_FORMAT})")
        monitor = (data.get("monitors") or {}).get(spec.monitor)
        if not isinstance(monitor, dict):
            known = ", ".join(sorted(data.get("monitors") or {})) or "none"
            raise NoveltyError(f"{where}: {path} has no monitor {spec.monitor!r} (it has: {known})")
        if monitor.get("feature") not in ("categorical", "numeric"):
            raise NoveltyError(
                f"{where}: monitor {spec.monitor!r} is {monitor.get('feature')}; use a "
                "categorical or numeric monitor"
            )
        counts = {str(k): int(v) for k, v in (monitor.get("counts") or {}).items()}
        edges = tuple(float(e) for e in monitor["edges"]) if monitor.get("edges") is not None else None
        return cls(spec.field, counts, max(1, sum(counts.values())), spec.min_share, edges)

    def key(self, value: Any) -> str:
        if value is None:
            return "<null>"
        if self.edges is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "<invalid>"
            return str(bisect_left(self.edges, float(value)))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def novel(self, scope: Mapping[str, Any]) -> str | None:
        """Why the event's value is novel, or None."""
        value = scope.get(self.field)
        seen = self.counts.get(self.key(value), 0)
        if seen == 0:
            return f"{self.field}={value!r} never seen in the baseline"
        if seen / self.total < self.min_share:
            share = seen / self.total
            return f"{self.field}={value!r} is {share:.4%} of the baseline (< {self.min_share:g})"
        return None
