"""Plant each known bug of issue 22 in a copy of the tree and check that its tests fail: ``python
tests/mutation/plant.py``.

Each bug is a small, plausible edit in an important function that once survived the unit tests of its
module. The copy is the one tests/mutation/run.py makes (dana_workflows/ as real folders), so the
checkout is never touched. Exit status 0 only if every planted bug is caught AND the same tests pass on
the unplanted copy (a test that fails either way proves nothing).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import copy_tree


@dataclass(frozen=True)
class Bug:
    name: str
    path: str  # under dana_workflows/
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug(
        "verify: the first row's link to the genesis hash is not checked",
        "sinks/verify.py",
        "        elif row.prev_hash != prev_hash:",
        "        elif row.seq > 0 and row.prev_hash != prev_hash:",
        ("tests/unit/sinks/test_verify_adversarial.py",),
    ),
    Bug(
        "CEL fast path: <= compiled as <",
        "workflow/cel_native.py",
        # the fast path writes each operator into its generated source (session 13): `<=` written as `<`
        "    def operator(self, symbol: str, left: Node, right: Node, at: int) -> str:\n",
        "    def operator(self, symbol: str, left: Node, right: Node, at: int) -> str:\n"
        '        symbol = "<" if symbol == "<=" else symbol\n',
        ("tests/unit/workflow/test_cel_native_boundaries.py",),
    ),
    Bug(
        "route: a condition tested for truthiness instead of `is True`",
        "processors/route.py",
        "taken = cond.evaluate(payload) is True",
        "taken = bool(cond.evaluate(payload))",
        ("tests/unit/processors/test_route_conditions.py",),
    ),
    Bug(
        "rate limiter: the window counted from admission instead of completion",
        "processors/llm/limits.py",
        "        slot.t = max(slot.t, self._clock())\n",
        "",
        ("tests/unit/processors/test_llm_limits.py",),
    ),
    Bug(
        "frontier: a transaction marker at the end of a scanned range never accounted for",
        "streams/kafka/frontier.py",
        "range(max(start, part.base), end + 1)",
        "range(max(start, part.base), end)",
        ("tests/unit/streams/test_frontier_scan_edges.py",),
    ),
)


def pytest(workdir: Path, tests: tuple[str, ...]) -> int:
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-cov", *tests]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True).returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dwf-planted"))
    parser.add_argument("--ref", default="HEAD", help="the git commit to plant into (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="plant into the working tree's state")
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    copy_tree(workdir, None if args.worktree else args.ref)
    failures = 0
    for bug in BUGS:
        source = workdir / "dana_workflows" / bug.path
        original = source.read_text()
        if original.count(bug.old) != 1:
            print(f"STALE    {bug.name}: the line to change is not in {bug.path} once; update {__file__}")
            failures += 1
            continue
        clean = pytest(workdir, bug.tests)
        source.write_text(original.replace(bug.old, bug.new))
        try:
            planted = pytest(workdir, bug.tests)
        finally:
            source.write_text(original)
        caught = clean == 0 and planted == 1
        failures += not caught
        verdict = "CAUGHT" if caught else "MISSED"
        print(f"{verdict:8} {bug.name} (clean exit {clean}, planted exit {planted}; {' '.join(bug.tests)})")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
