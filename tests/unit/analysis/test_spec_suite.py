"""bench/spec_analysis.py's suite, by counts: every planted finding found, nothing flagged on clean specs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "bench" / "data" / "spec_defects"


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("spec_analysis_bench", ROOT / "bench" / "spec_analysis.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_suite_has_the_size_the_docs_claim() -> None:
    expected = json.loads((SUITE / "expected.json").read_text())
    assert len([v for v in expected.values() if v]) >= 30
    assert len([v for v in expected.values() if not v]) >= 5
    assert {p.name for p in SUITE.glob("*.yaml")} == set(expected)


def test_every_planted_defect_found_and_no_false_finding() -> None:
    score = _bench().score_suite(SUITE)  # type: ignore[attr-defined]
    assert score.missed == []
    assert score.found == score.planted
    assert score.false_on_clean == []
    assert score.extra_on_defective == []
