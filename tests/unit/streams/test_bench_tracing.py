"""A count-based check of bench/tracing_overhead.py (no figures asserted): every span of a fully traced run
reaches the receiver, none when tracing is off, a part of them when sampled."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import tracing_overhead as bench  # noqa: E402


def test_the_bench_counts_every_span(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DWF_OTLP_ENDPOINT", raising=False)
    rows = {
        label: (received, expected) for label, _, received, expected in bench.measure(events=40, repeat=1)
    }
    assert set(rows) == {"off", "every event", "10% of events"}
    assert rows["off"][0] == 0
    received, expected = rows["every event"]
    assert expected > 40 and received == expected  # a root per event and a span per row, none dropped
    assert rows["10% of events"][0] < expected
