"""Bypass thresholds from recorded traffic, chosen so the bypass error stays under a declared bound.

A record is one first answer of one step with its tier, its confidence and whether it was right (a
verification call agreed with it, or a person said so with ``dana-wf feedback``). For each step, the
thresholds of its bypassable tiers (low, medium) are chosen together: the ones that bypass the most
answers such that the answers they bypass, had they all been bypassed, are wrong with a one-sided
Wilson upper bound at ``level`` no greater than ``bound`` - the bound is the step's - and no tier's own
share of wrong bypassed answers exceeds ``bound``. Too few records for that: no threshold, always verified.

A calibration is a versioned JSON file; ``dana-wf efficiency calibrate`` writes the next version and
records it in the audit log.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from statistics import NormalDist
from typing import Any

from dana_workflows.processors.efficiency.risk import BYPASSABLE_TIERS, Thresholds
from dana_workflows.schemas.canonical import canonical_json

FORMAT = "dana-wf-calibration"


class CalibrationError(ValueError):
    """A calibration file that cannot be read or used."""


@dataclass(frozen=True, slots=True)
class Record:
    step: str
    tier: str
    confidence: float
    correct: bool


@dataclass(frozen=True, slots=True)
class TierThreshold:
    threshold: float | None  # None: never bypass
    records: int  # of this tier
    bypassed: int  # records at or above the threshold
    errors: int  # wrong among them
    upper: float | None  # the Wilson upper bound of their error rate
    pooled_upper: float | None = None  # the same, over the step's bypassed answers of every tier

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "records": self.records,
            "bypassed": self.bypassed,
            "errors": self.errors,
            "upper": self.upper,
            "pooled_upper": self.pooled_upper,
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    workflow: str
    version: int
    bound: float
    level: float
    steps: dict[str, dict[str, TierThreshold]]
    source: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def thresholds(self, step: str) -> Thresholds:
        tiers = self.steps.get(step)
        if tiers is None:
            return Thresholds(
                low=None, medium=None, source=f"calibration v{self.version}: no records for {step}"
            )
        low = tiers.get("low")
        medium = tiers.get("medium")
        return Thresholds(
            low=low.threshold if low is not None else None,
            medium=medium.threshold if medium is not None else None,
            source=f"calibration v{self.version}",
        )

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "workflow": self.workflow,
            "version": self.version,
            "bound": self.bound,
            "level": self.level,
            "created_at": self.created_at,
            "source": self.source,
            "steps": {
                s: {t: v.to_json() for t, v in sorted(tiers.items())}
                for s, tiers in sorted(self.steps.items())
            },
        }

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.body()).encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "sha256": self.digest}


def wilson_upper(errors: int, n: int, level: float) -> float:
    """One-sided upper confidence bound of a binomial proportion (Wilson score)."""
    if n <= 0:
        return 1.0
    z = NormalDist().inv_cdf(level)
    p = errors / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z2 / n))


@dataclass(frozen=True, slots=True)
class _Cut:
    threshold: float | None
    bypassed: int
    errors: int


def _cuts(records: list[Record]) -> list[_Cut]:
    """Every candidate threshold of one tier (each distinct confidence, and never), with the records at
    or above it and the wrong ones among them."""
    ordered = sorted(records, key=lambda r: r.confidence, reverse=True)
    cuts = [_Cut(None, 0, 0)]
    errors = i = 0
    while i < len(ordered):
        conf = ordered[i].confidence
        while i < len(ordered) and ordered[i].confidence == conf:  # a threshold takes all ties
            errors += 0 if ordered[i].correct else 1
            i += 1
        cuts.append(_Cut(conf, i, errors))
    return cuts


def step_thresholds(tiers: dict[str, list[Record]], bound: float, level: float) -> dict[str, TierThreshold]:
    """The thresholds of one step's tiers that bypass the most answers while the answers they bypass,
    all tiers together, are wrong with a Wilson upper bound <= ``bound``, and no tier's own bypassed
    answers are wrong more often than ``bound`` (a risky tier cannot hide behind a safe one)."""
    names = sorted(tiers)
    options = [
        [c for c in _cuts(tiers[t]) if c.bypassed == 0 or c.errors / c.bypassed <= bound] for t in names
    ]
    best: tuple[int, tuple[float, ...]] | None = None
    chosen: tuple[_Cut, ...] = tuple(_Cut(None, 0, 0) for _ in names)
    for combo in product(*options):
        n = sum(c.bypassed for c in combo)
        if n == 0 or wilson_upper(sum(c.errors for c in combo), n, level) > bound:
            continue
        # most answers bypassed; on a tie, the higher thresholds (the safer choice)
        key = (n, tuple(c.threshold if c.threshold is not None else 2.0 for c in combo))
        if best is None or key > best:
            best, chosen = key, combo
    n = sum(c.bypassed for c in chosen)
    pooled = round(wilson_upper(sum(c.errors for c in chosen), n, level), 6) if n else None
    return {
        t: TierThreshold(
            c.threshold,
            len(tiers[t]),
            c.bypassed,
            c.errors,
            round(wilson_upper(c.errors, c.bypassed, level), 6) if c.bypassed else None,
            pooled,
        )
        for t, c in zip(names, chosen, strict=True)
    }


def tier_threshold(records: list[Record], bound: float, level: float) -> TierThreshold:
    """One tier alone: the lowest confidence whose at-or-above set keeps the bound (None if none does)."""
    return step_thresholds({"tier": records}, bound, level)["tier"]


def calibrate(
    workflow: str,
    records: Iterable[Record],
    *,
    bound: float,
    level: float,
    version: int,
    source: dict[str, Any] | None = None,
    created_at: str = "",
) -> Calibration:
    if not 0.0 < bound < 1.0:
        raise CalibrationError(f"the error bound must be between 0 and 1 (exclusive), got {bound}")
    if not 0.0 < level < 1.0:
        raise CalibrationError(f"the confidence level must be between 0 and 1 (exclusive), got {level}")
    grouped: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.tier in BYPASSABLE_TIERS:
            grouped[r.step][r.tier].append(r)
    steps = {step: step_thresholds(dict(tiers), bound, level) for step, tiers in grouped.items()}
    return Calibration(workflow, version, bound, level, steps, dict(source or {}), created_at)


# -- files ---------------------------------------------------------------------------------------


def current_path(directory: Path, workflow: str) -> Path:
    return directory / f"{workflow}.json"


def load_calibration(path: Path) -> Calibration:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalibrationError(f"cannot read the calibration {path} ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise CalibrationError(
            f"{path} is not JSON ({exc.msg}); run 'dana-wf efficiency calibrate' again"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CalibrationError(f"{path} is not a calibration file (format {FORMAT})")
    try:
        steps = {s: {t: TierThreshold(**v) for t, v in tiers.items()} for s, tiers in data["steps"].items()}
        cal = Calibration(
            data["workflow"],
            int(data["version"]),
            float(data["bound"]),
            float(data["level"]),
            steps,
            dict(data.get("source") or {}),
            str(data.get("created_at", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: a calibration field is missing or wrong ({exc})") from exc
    if data.get("sha256") != cal.digest:
        raise CalibrationError(f"{path} was changed after it was written (hash mismatch); recalibrate")
    return cal


def next_version(directory: Path, workflow: str) -> int:
    versions = [0]
    for p in directory.glob(f"{workflow}.v*.json"):
        tail = p.name.removeprefix(f"{workflow}.v").removesuffix(".json")
        if tail.isdigit():
            versions.append(int(tail))
    return max(versions) + 1


def save_calibration(cal: Calibration, directory: Path) -> Path:
    """Writes <workflow>.v<N>.json (kept) and <workflow>.json (the one in use)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(cal.to_json(), indent=2, sort_keys=True) + "\n"
    versioned = directory / f"{cal.workflow}.v{cal.version}.json"
    versioned.write_text(text, encoding="utf-8")
    current_path(directory, cal.workflow).write_text(text, encoding="utf-8")
    return versioned
