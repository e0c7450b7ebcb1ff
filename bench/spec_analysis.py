"""Spec analysis on the labelled suite (bench/data/spec_defects) and the time `validate` takes.

Prints, per case, the expected findings found and any other warning or error; then the totals
(planted defects found, false findings on clean specs, extra findings on defect specs), and the time of
load + type check + solver per spec next to the baseline measured in the same run: load + type check
alone (what validate costs without the solver). Usage:

    python bench/spec_analysis.py [--repeat 3] [--suite DIR] [--examples docs/examples]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dana_workflows.analysis.report import analyse  # noqa: E402
from dana_workflows.workflow.spec import load_spec  # noqa: E402

SUITE = ROOT / "bench" / "data" / "spec_defects"


@dataclass
class Score:
    planted: int = 0
    found: int = 0
    clean_specs: int = 0
    false_on_clean: list[str] = field(default_factory=list)
    extra_on_defective: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def score_suite(suite: Path) -> Score:
    """Compare the analysis of every suite spec with its expected findings (code and site key)."""
    expected: dict[str, list[dict[str, str]]] = json.loads((suite / "expected.json").read_text())
    score = Score()
    for name, wanted in sorted(expected.items()):
        analysis = analyse(load_spec(suite / name))
        got = {(f.code, f.key) for f in analysis.findings}
        flagged = {(f.code, f.key) for f in analysis.findings if f.severity in ("error", "warning")}
        want = {(w["code"], w["key"]) for w in wanted}
        score.planted += len(want)
        score.found += len(want & got)
        score.missed += [f"{name}: {c} at {k}" for c, k in sorted(want - got)]
        others = [f"{name}: {c} at {k}" for c, k in sorted(flagged - want)]
        if not want:
            score.clean_specs += 1
            score.false_on_clean += others
        else:
            score.extra_on_defective += others
    return score


def timed(spec: Path, solve: bool, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        analyse(load_spec(spec), solve=solve)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--examples", type=Path, default=ROOT / "docs" / "examples")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    score = score_suite(args.suite)
    suite_s = time.perf_counter() - start
    print(f"suite: {args.suite} ({score.planted} planted findings, {score.clean_specs} clean specs)")
    print(f"  planted found      {score.found}/{score.planted}")
    print(f"  false on clean     {len(score.false_on_clean)}")
    print(f"  extra on defective {len(score.extra_on_defective)}")
    for line in score.missed:
        print(f"  MISSED  {line}")
    for line in score.false_on_clean + score.extra_on_defective:
        print(f"  EXTRA   {line}")
    print(f"  whole suite analysed in {suite_s:.2f} s")
    print("\nvalidate time per spec (median of repeats): load + types + solver | baseline load + types")
    for spec in sorted(args.examples.glob("*/*.yaml")):
        try:
            load_spec(spec)
        except Exception:  # not a workflow spec (an LLM script, a config): skipped
            continue
        full, base = timed(spec, True, args.repeat), timed(spec, False, args.repeat)
        print(f"  {spec.relative_to(ROOT)}: {full * 1000:.0f} ms | {base * 1000:.0f} ms")
    slowest = max(timed(p, True, 1) for p in sorted(args.suite.glob("*.yaml")))
    print(f"  slowest suite spec: {slowest * 1000:.0f} ms")


if __name__ == "__main__":
    main()
