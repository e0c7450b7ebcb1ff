"""The profilers as error detectors on Auto-Test's RT-bench / ST-bench, scored by that benchmark's rules.

Auto-Test (SIGMOD 2025, github.com/qixuchen/AutoTest) ships 1,200 real columns per benchmark with their
distinct values and hand-labelled errors, and each published method's predictions as
`code/AutoTest/demo/baseline_results/<bench>/<method>.csv` (ground_truth, pred_score). The repository
has no licence file, so nothing of it is shipped here: pass a checkout's path.

Scoring, as its `exp_util.get_gt_and_predscore`: one predicted error per column with a score; a column
whose prediction is a labelled (or debatable) error scores as a positive; a wrong prediction adds a
negative with its score; columns with only debatable errors are left out. We report the recall at the
best threshold whose precision is >= 0.8, for our detector and for every released prediction file.

Our detector uses only the profilers' own ideas, on distinct values (the benchmark has no counts):
the types profiler (a few non-numbers in a column of numbers), the range profiler (numbers outside the
robust quantile range), and the pattern profiler's shapes (a few values whose runs of letters, digits
and marks differ from the dominant shape). Score: 1 - (k + 1) / (n + 2) for k deviating values of n.
"""

from __future__ import annotations

import ast
import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dana_workflows.objectives.profilers.patterns import runs
from dana_workflows.objectives.profilers.ranges import bounds
from dana_workflows.objectives.settings import InferenceSettings

NUMBER = re.compile(r"^[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?$")
MIN_VALUES = 5
MAX_SHARE = 0.05  # deviating values beyond this share are a second population, not errors


@dataclass(slots=True)
class Column:
    header: str
    values: list[str]
    errors: set[str]
    debatable: set[str]
    index: int = 0  # the benchmark's own row index: the dev half is even, the test half odd


HALVES = {"dev": 0, "test": 1}  # declared in docs/objectives.md before the detector was changed on dev


def _literal(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def load_bench(path: Path, half: str | None = None) -> list[Column]:
    """The benchmark's columns; with `half`, only the dev (even index) or test (odd index) half."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        cols = [
            Column(
                r["header"],
                _literal(r["dist_val"]),
                set(_literal(r["ground_truth"])),
                set(_literal(r["ground_truth_debatable"])),
                int(r.get("index") or i),
            )
            for i, r in enumerate(csv.DictReader(fh))
        ]
    if half is None:
        return cols
    return [c for c in cols if c.index % 2 == HALVES[half]]


def _score(k: int, n: int) -> float:
    return 1.0 - (k + 1) / (n + 2)


def _few(deviating: Sequence[str], n: int) -> bool:
    return 0 < len(deviating) <= max(1, int(MAX_SHARE * n))


def detect(values: Sequence[str], settings: InferenceSettings) -> tuple[str, float] | None:
    """The column's most likely error and its score, or None."""
    n = len(values)
    if n < MIN_VALUES:
        return None
    numbers = [v for v in values if NUMBER.match(v.strip())]
    if len(numbers) >= 0.8 * n:
        others = [v for v in values if not NUMBER.match(v.strip())]
        if _few(others, n):
            return others[0], _score(len(others), n)
        if others:
            return None
        floats = [float(v) for v in numbers]
        lo, hi = bounds(floats, settings, integer=False)
        outside = [v for v, x in zip(numbers, floats, strict=True) if x < lo or x > hi]
        return (outside[0], _score(len(outside), n)) if _few(outside, n) else None
    words = [v for v in values if not any(ch.isdigit() for ch in v)]
    if len(words) >= 0.8 * n:
        # a column of words: a bare number in it is a placeholder or a misplaced cell (the types
        # profile turned round), while words that differ in count or marks are just words
        stray = [v for v in values if NUMBER.match(v.strip())]
        if _few(stray, n):
            return stray[0], _score(len(stray), n)
        exact = {v: runs(v.strip()) for v in values}
        code, seen = Counter(exact.values()).most_common(1)[0]
        odd = [v for v in values if exact[v] != code]
        if seen >= 0.9 * n and len(code) == 1 and _few(odd, n):
            return odd[0], _score(len(odd), n)  # a code of one fixed length (`fl`, `nc`): `germany`
        return None
    shapes = {v: tuple(c for c, _ in runs(v.strip())) for v in values}
    common, count = Counter(shapes.values()).most_common(1)[0]
    deviating = [v for v in values if shapes[v] != common]
    if count >= 0.8 * n and _few(deviating, n):
        return deviating[0], _score(len(deviating), n)
    return None


def scores(columns: Sequence[Column], settings: InferenceSettings) -> tuple[list[int], list[float]]:
    """(labels, scores) as Auto-Test builds them for its precision-recall curve."""
    labels: list[int] = []
    preds: list[float] = []
    extra: list[float] = []
    for col in columns:
        if col.debatable and not col.errors:
            continue  # Auto-Test's "not care" columns
        found = detect(col.values, settings)
        score = 0.0
        if found is not None:
            value, s = found
            if value in col.errors or value in col.debatable:
                score = s
            else:
                extra.append(s)
        labels.append(1 if col.errors else 0)
        preds.append(score)
    return labels + [0] * len(extra), preds + extra


def recall_at_precision(labels: Sequence[int], preds: Sequence[float], floor: float = 0.8) -> float:
    """The largest recall over thresholds > 0 whose precision is at least `floor`."""
    positives = sum(labels)
    best = 0.0
    for t in sorted({p for p in preds if p > 0}, reverse=True):
        flagged = [lab for lab, p in zip(labels, preds, strict=True) if p >= t]
        tp = sum(flagged)
        if flagged and tp / len(flagged) >= floor:
            best = max(best, tp / positives if positives else 0.0)
    return best


def published(path: Path) -> tuple[list[int], list[float]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [int(float(r["ground_truth"])) for r in rows], [float(r["pred_score"]) for r in rows]


def report(checkout: Path, half: str | None = None) -> None:
    settings = InferenceSettings()
    for bench in ("rt_bench", "st_bench"):
        data = checkout / "benchmarks" / f"{bench}.csv"
        print(f"\nAuto-Test {bench}: recall at precision >= 0.8")
        if data.exists():
            cols = load_bench(data, half)
            labels, preds = scores(cols, settings)
            which = f"{half} half, " if half else ""
            print(
                f"  {'profilers (ours)':<18} {recall_at_precision(labels, preds):.3f}  "
                f"({which}{len(cols)} columns)"
            )
        else:
            print(f"  profilers (ours): {data} not found (the data is not shipped; see docs/objectives.md)")
        results = checkout / "code" / "AutoTest" / "demo" / "baseline_results" / bench
        for f in sorted(results.glob("*.csv")) if results.is_dir() else []:
            labels, preds = published(f)
            print(f"  {f.stem:<18} {recall_at_precision(labels, preds):.3f}  (released predictions)")
