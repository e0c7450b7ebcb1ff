"""The coverage configuration measures every room, with branches, in the processes tests start too.

coverage records a file by its real path; the rooms are symlinks under dana_workflows/, so a room missing
from `source` would silently not be measured (that is how `source = ["dana_workflows"]` alone measured
only dana_workflows/__init__.py). The per-room report (tests/coverage_report.py) is checked on a known
report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.coverage_report import room_of, table, tally

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]


def test_every_room_is_a_coverage_source() -> None:
    rooms = {p.name for p in (ROOT / "dana_workflows").iterdir() if p.is_symlink()}
    assert rooms, "dana_workflows/ should hold one symlink per room"
    assert set(CONFIG["run"]["source"]) == rooms | {"dana_workflows"}, (
        "pyproject.toml [tool.coverage.run] source must list every room's folder (a new room is not measured "
        "until it is added there)"
    )


def test_branches_and_started_processes_are_measured() -> None:
    run = CONFIG["run"]
    assert run["branch"] is True
    assert "subprocess" in run["patch"] and run["parallel"] is True


def test_run_all_holds_lines_and_branches_to_floors_above_the_combined_one() -> None:
    """coverage's fail_under judges lines and branches together; run-all.sh holds each to its own floor."""
    script = (ROOT / "tests" / "run-all.sh").read_text()
    match = re.search(r"coverage_report\.py \S+ --lines (\d+) --branches (\d+)", script)
    assert match, "tests/run-all.sh should run tests/coverage_report.py with both floors"
    lines, branches = int(match.group(1)), int(match.group(2))
    assert lines >= CONFIG["report"]["fail_under"] >= branches > 0


def test_per_room_tally_and_floors(tmp_path: Path) -> None:
    def summary(lines: int, hit: int, branches: int, taken: int) -> dict[str, dict[str, int]]:
        keys = ("num_statements", "covered_lines", "num_branches", "covered_branches")
        return {"summary": dict(zip(keys, (lines, hit, branches, taken), strict=True))}

    report: dict[str, object] = {
        "files": {
            "sinks/verify.py": summary(10, 9, 4, 2),
            "sinks/reader.py": summary(10, 10, 0, 0),
            "dana_workflows/__init__.py": summary(5, 5, 0, 0),
        }
    }
    rooms, total = tally(report)
    assert room_of("sinks/verify.py") == "sinks" and room_of("dana_workflows/__init__.py") == "dana_workflows"
    assert (rooms["sinks"].line_percent, rooms["sinks"].branch_percent) == (95.0, 50.0)
    assert (total.lines, total.lines_hit, total.branches, total.branches_hit) == (25, 24, 4, 2)
    assert "| **all** | 25 | 96.0% | 4 | 50.0% |" in table(rooms, total)
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report))
    script = [sys.executable, str(ROOT / "tests" / "coverage_report.py"), str(path)]
    ok = subprocess.run([*script, "--lines", "96", "--branches", "50"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    low = subprocess.run([*script, "--lines", "90", "--branches", "60"], capture_output=True, text=True)
    assert low.returncode == 1
    assert "coverage: branches 50.00% is under the floor of 60.0%" in low.stdout
