"""Each planted bug of tests/mutation/plant.py still names a line its file holds exactly once.

The planting runs at the end of `make test`; a bug whose line a refactor rewrote is reported STALE there and
fails the run after ~30 minutes of tests. This finds the same thing in the unit tests, in a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "mutation"))
import plant  # noqa: E402

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("bug", plant.BUGS, ids=lambda b: b.name)
def test_a_planted_bugs_line_is_in_its_file_once(bug: plant.Bug) -> None:
    source = (ROOT / bug.path).read_text()
    assert source.count(bug.old) == 1, f"{bug.path}: update tests/mutation/plant.py's {bug.name!r}"
    assert bug.new != bug.old
