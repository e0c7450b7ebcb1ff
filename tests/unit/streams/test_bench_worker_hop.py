"""A count-based check of bench/worker_hop.py (no figures asserted): every record runs the hop in every
repeat and the step metrics count each at the first step once (the flushes every few records included);
without the metrics nothing is counted and the rows and sends are the same."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import worker_hop as bench  # noqa: E402


def test_the_bench_counts_every_record_of_every_repeat() -> None:
    lines = (bench.CLAIMS / "events.jsonl").read_text().splitlines()[:60]
    measured = bench.measure(records=60, repeat=2, batch=7, warmup=5)
    assert 50 < measured.records <= len(lines)  # the admitted ones (a few claims fail admission)
    assert len(measured.us) == 2
    # each repeat counts every record at the first step; the warm-up's 5 records once
    assert measured.counted == 2 * measured.records + 5
    bare = bench.measure(records=60, repeat=1, batch=7, metrics=False)
    assert bare.counted == 0
    assert (bare.records, bare.digest) == (measured.records, measured.digest)


def test_the_bench_leaves_no_folder_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(bench.tempfile, "tempdir", None)  # read TMPDIR again
    bench.measure(records=10, repeat=1, batch=3)
    assert list(tmp_path.iterdir()) == []
