"""Calibrated bypass thresholds: the bound holds with its interval, files are versioned and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.processors.efficiency.calibration import (
    CalibrationError,
    Record,
    calibrate,
    load_calibration,
    next_version,
    save_calibration,
    tier_threshold,
    wilson_upper,
)
from dana_workflows.processors.efficiency.records import records_from_rows

pytestmark = pytest.mark.unit


def test_wilson_upper_bound_known_values() -> None:
    # one-sided 95% (z = 1.6449): 0 errors in 100 -> z^2 / (n + z^2) = 2.7055 / 102.7055
    assert wilson_upper(0, 100, 0.95) == pytest.approx(2.7055 / 102.7055, rel=1e-3)
    assert wilson_upper(0, 0, 0.95) == 1.0
    assert wilson_upper(5, 100, 0.95) > 0.05  # an upper bound is above the observed rate


def _records(conf_right: dict[float, tuple[int, int]], tier: str = "low") -> list[Record]:
    out = []
    for conf, (right, wrong) in conf_right.items():
        out += [Record("s", tier, conf, True)] * right + [Record("s", tier, conf, False)] * wrong
    return out


def test_threshold_is_the_lowest_confidence_whose_bypassed_set_keeps_the_bound() -> None:
    # 0.95: 600 right; 0.80: 400 right, 2 wrong; 0.60: 100 right, 30 wrong
    recs = _records({0.95: (600, 0), 0.80: (400, 2), 0.60: (100, 30)})
    t = tier_threshold(recs, bound=0.01, level=0.95)
    # at 0.80: 2 wrong of 1002, Wilson upper ~0.0058 <= 0.01; at 0.60: 32 of 1132 -> ~0.037 > 0.01
    assert t.threshold == 0.80 and t.bypassed == 1002 and t.errors == 2
    assert t.upper is not None and t.upper <= 0.01
    assert tier_threshold(recs, bound=0.001, level=0.95).threshold is None  # 600 clean are too few for 0.1%


def test_too_few_records_never_bypass() -> None:
    assert tier_threshold(_records({0.99: (50, 0)}), 0.01, 0.95).threshold is None


def test_calibrate_groups_by_step_and_bypassable_tier_and_checks_its_bounds() -> None:
    recs = _records({0.9: (400, 0)}) + _records({0.9: (400, 0)}, "high")
    cal = calibrate("wf", recs, bound=0.01, level=0.95, version=3)
    assert set(cal.steps["s"]) == {"low"}  # high is never bypassed: no threshold for it
    th = cal.thresholds("s")
    assert (th.low, th.medium, th.source) == (0.9, None, "calibration v3")
    assert cal.thresholds("other").low is None  # a step without records is always verified
    with pytest.raises(CalibrationError, match="between 0 and 1"):
        calibrate("wf", recs, bound=0.0, level=0.95, version=1)
    with pytest.raises(CalibrationError, match="between 0 and 1"):
        calibrate("wf", recs, bound=0.01, level=1.0, version=1)


def test_files_are_versioned_and_a_changed_file_is_refused(tmp_path: Path) -> None:
    recs = _records({0.9: (400, 0)})
    assert next_version(tmp_path, "wf") == 1
    first = save_calibration(calibrate("wf", recs, bound=0.01, level=0.95, version=1), tmp_path)
    assert next_version(tmp_path, "wf") == 2
    save_calibration(calibrate("wf", recs, bound=0.02, level=0.95, version=2), tmp_path)
    assert first.name == "wf.v1.json" and (tmp_path / "wf.v2.json").exists()
    current = load_calibration(tmp_path / "wf.json")
    assert current.version == 2 and current.bound == 0.02
    data = json.loads(first.read_text())
    data["steps"]["s"]["low"]["threshold"] = 0.1  # hand-edited to bypass more
    first.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="changed after it was written"):
        load_calibration(first)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CalibrationError, match="not JSON"):
        load_calibration(tmp_path / "bad.json")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(tmp_path / "missing.json")


def _row(run: str, tier: str, conf: float, correct: bool | None) -> tuple[str, str, str]:
    summary = {"step": "s", "risk": {"tier": tier, "verify": correct is not None}, "confidence": conf}
    if correct is not None:
        summary["first_correct"] = correct
    return run, "emitted", json.dumps({"dwf.eff": summary})


def test_records_take_verified_answers_and_feedback_labels_the_rest() -> None:
    rows = [
        _row("r1", "low", 0.9, True),
        _row("r2", "low", 0.8, False),
        _row("r3", "low", 0.95, None),  # bypassed, no feedback: not a record
        _row("r4", "medium", 0.7, None),  # bypassed, a person said it was wrong
        ("r4", "feedback", json.dumps({"run_id": "r4", "step": "s", "correct": False})),
        ("r1", "feedback", json.dumps({"run_id": "r1", "step": "s", "correct": False})),  # a person outranks
        ("r9", "emitted", "{not json"),
    ]
    got = sorted((r.tier, r.confidence, r.correct) for r in records_from_rows(rows))
    assert got == [("low", 0.8, False), ("low", 0.9, False), ("medium", 0.7, False)]


def test_the_bound_is_the_steps_over_its_tiers_and_a_risky_tier_cannot_hide() -> None:
    from dana_workflows.processors.efficiency.calibration import step_thresholds

    low = _records({0.9: (900, 2)}, "low")
    # medium: 250 right at 0.9 (too few to keep 1% alone), and 40 wrong at 0.6
    medium = _records({0.9: (250, 1), 0.6: (0, 40)}, "medium")
    alone = tier_threshold(medium, 0.01, 0.95)
    assert alone.threshold is None  # 1 wrong in 251: the Wilson bound is above 1%
    both = step_thresholds({"low": low, "medium": medium}, 0.01, 0.95)
    # together: 3 wrong in 1153 bypassed, upper ~0.0076 <= 0.01; the 0.6 answers stay verified
    assert (both["low"].threshold, both["medium"].threshold) == (0.9, 0.9)
    assert both["low"].pooled_upper == both["medium"].pooled_upper
    assert both["low"].pooled_upper is not None and both["low"].pooled_upper <= 0.01
    # a tier whose own bypassed answers are wrong more often than the bound is never bypassed
    bad = _records({0.95: (30, 2)}, "medium")
    mixed = step_thresholds({"low": _records({0.9: (3000, 0)}, "low"), "medium": bad}, 0.01, 0.95)
    assert mixed["low"].threshold == 0.9 and mixed["medium"].threshold is None


def test_the_state_reads_the_calibration_in_use(tmp_path: Path) -> None:
    from dana_workflows.processors.efficiency.state import UNCALIBRATED, EfficiencyState

    assert EfficiencyState().thresholds("wf", "s", None) == UNCALIBRATED  # no folder: the defaults
    state = EfficiencyState(calibration_dir=tmp_path)
    assert state.thresholds("wf", "s", None) == UNCALIBRATED  # no file yet
    save_calibration(calibrate("wf", _records({0.9: (400, 0)}), bound=0.01, level=0.95, version=1), tmp_path)
    assert state.thresholds("wf", "s", None) == UNCALIBRATED  # read once per worker...
    state.forget_calibrations()
    th = state.thresholds("wf", "s", None)  # ...until told to read again
    assert (th.low, th.source) == (0.9, "calibration v1")
    explicit = EfficiencyState().thresholds("wf", "s", str(tmp_path / "wf.v1.json"))
    assert explicit.low == 0.9
    with pytest.raises(CalibrationError, match="cannot read"):  # a named file that is missing fails loudly
        EfficiencyState().thresholds("wf", "s", str(tmp_path / "nope.json"))
