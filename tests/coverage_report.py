"""Lines and branches per room from a coverage JSON report, and the floors: ``python tests/coverage_report.py
coverage.json --lines 90 --branches 80``.

coverage's own ``fail_under`` (pyproject.toml) judges lines and branches together; this judges each on its
own, so a well-covered line count cannot hide untested branches, and prints the per-room table of
docs/testing.md. Exit status 1 names the floor that was missed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Tally:
    lines: int = 0
    lines_hit: int = 0
    branches: int = 0
    branches_hit: int = 0

    def add(self, summary: dict[str, int]) -> None:
        self.lines += summary["num_statements"]
        self.lines_hit += summary["covered_lines"]
        self.branches += summary.get("num_branches", 0)
        self.branches_hit += summary.get("covered_branches", 0)

    @staticmethod
    def percent(hit: int, total: int) -> float:
        return 100.0 * hit / total if total else 100.0

    @property
    def line_percent(self) -> float:
        return self.percent(self.lines_hit, self.lines)

    @property
    def branch_percent(self) -> float:
        return self.percent(self.branches_hit, self.branches)


def room_of(filename: str) -> str:
    """`sinks/verify.py` -> sinks (coverage reports a room's files by their real folder)."""
    parts = Path(filename).parts
    return parts[0] if len(parts) > 1 else "(top)"


def tally(report: dict[str, object]) -> tuple[dict[str, Tally], Tally]:
    rooms: dict[str, Tally] = {}
    total = Tally()
    files = report["files"]
    assert isinstance(files, dict)
    for filename, data in files.items():
        summary = data["summary"]
        rooms.setdefault(room_of(filename), Tally()).add(summary)
        total.add(summary)
    return rooms, total


def table(rooms: dict[str, Tally], total: Tally) -> str:
    rows = ["| room | lines | covered | branches | covered |", "|---|---:|---:|---:|---:|"]
    for name, t in sorted(rooms.items()):
        rows.append(
            f"| {name} | {t.lines} | {t.line_percent:.1f}% | {t.branches} | {t.branch_percent:.1f}% |"
        )
    rows.append(
        f"| **all** | {total.lines} | {total.line_percent:.1f}% | {total.branches} | "
        f"{total.branch_percent:.1f}% |"
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("report", type=Path, help="written by pytest --cov-report=json:FILE")
    parser.add_argument("--lines", type=float, required=True, help="the floor for lines, percent")
    parser.add_argument("--branches", type=float, required=True, help="the floor for branches, percent")
    args = parser.parse_args()
    rooms, total = tally(json.loads(args.report.read_text()))
    print(table(rooms, total))
    missed = [
        f"{what} {got:.2f}% is under the floor of {floor}%"
        for what, got, floor in (
            ("lines", total.line_percent, args.lines),
            ("branches", total.branch_percent, args.branches),
        )
        if got < floor
    ]
    for line in missed:
        print(f"coverage: {line}")
    raise SystemExit(1 if missed else 0)


if __name__ == "__main__":
    main()
