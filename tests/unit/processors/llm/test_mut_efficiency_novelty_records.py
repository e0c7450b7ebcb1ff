"""Novelty against a drift baseline and calibration records from audit rows (processors/efficiency/).

Novelty (its docstring): categorical values keyed by themselves (booleans as true/false), numeric ones by
their right-closed bin over the file's edges; a value never seen is novel, one seen less often than
``min_share`` (strictly) too. Records: a judged first answer per (run, step); a person's feedback or a
reviewer's override outranks a verification's verdict; unjudged answers are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.efficiency.calibration import Record
from dana_workflows.processors.efficiency.novelty import NoveltyCheck, NoveltyError
from dana_workflows.processors.efficiency.records import records_from_rows
from dana_workflows.workflow.efficiency_ir import NoveltyIR

pytestmark = pytest.mark.unit


def _baseline(tmp_path: Path, monitors: dict[str, Any], name: str = "b.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps({"format": "dana-wf-drift-baseline", "version": 1, "monitors": monitors}))
    return p


def test_categorical_novelty_by_count_and_share(tmp_path: Path) -> None:
    _baseline(tmp_path, {"c": {"feature": "categorical", "counts": {"EUR": 90, "USD": 9, "true": 1}}})
    check = NoveltyCheck.load(
        NoveltyIR(field="cur", baseline="b.json", monitor="c", min_share=0.05), tmp_path
    )
    assert check.total == 100
    assert check.novel({"cur": "EUR"}) is None
    assert check.novel({"cur": "USD"}) is None
    assert check.novel({"cur": "GBP"}) == "cur='GBP' never seen in the baseline"
    assert check.novel({"cur": True}) == "cur=True is 1.0000% of the baseline (< 0.05)"
    assert check.novel({}) == "cur=None never seen in the baseline"
    at_share = NoveltyCheck("f", {"a": 5, "b": 95}, 100, 0.05, None)
    assert at_share.novel({"f": "a"}) is None  # exactly the share: not novel


def test_numeric_novelty_by_right_closed_bin(tmp_path: Path) -> None:
    _baseline(tmp_path, {"n": {"feature": "numeric", "counts": {"0": 10, "1": 10}, "edges": [100.0]}})
    check = NoveltyCheck.load(NoveltyIR(field="amount", baseline=str(tmp_path / "b.json"), monitor="n"), None)
    assert check.key(100) == "0" and check.key(100.5) == "1"
    assert check.key(True) == "<invalid>" and check.key("x") == "<invalid>" and check.key(None) == "<null>"
    assert check.novel({"amount": 50}) is None
    assert check.novel({"amount": "x"}) == "amount='x' never seen in the baseline"


def test_an_empty_baseline_counts_one_so_nothing_divides_by_zero(tmp_path: Path) -> None:
    _baseline(tmp_path, {"c": {"feature": "categorical", "counts": {}}})
    check = NoveltyCheck.load(NoveltyIR(field="f", baseline="b.json", monitor="c"), tmp_path)
    assert check.total == 1 and check.novel({"f": "x"}) is not None


def test_baselines_that_cannot_be_used_say_why(tmp_path: Path) -> None:
    spec = NoveltyIR(field="f", baseline="b.json", monitor="m")
    with pytest.raises(
        NoveltyError,
        match=r"^risk\.novelty 'f': cannot read the baseline .*make it with 'dana-wf drift baseline'$",
    ):
        NoveltyCheck.load(spec, tmp_path)
    (tmp_path / "b.json").write_text("{nope")
    with pytest.raises(NoveltyError, match="cannot read the baseline"):
        NoveltyCheck.load(spec, tmp_path)
    (tmp_path / "b.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(NoveltyError, match=r"is not a drift baseline file \(format dana-wf-drift-baseline\)"):
        NoveltyCheck.load(spec, tmp_path)
    _baseline(tmp_path, {"x": {"feature": "categorical", "counts": {}}, "a": {}})
    with pytest.raises(NoveltyError, match=r"has no monitor 'm' \(it has: a, x\)"):
        NoveltyCheck.load(spec, tmp_path)
    _baseline(tmp_path, {})
    with pytest.raises(NoveltyError, match=r"\(it has: none\)"):
        NoveltyCheck.load(spec, tmp_path)
    _baseline(tmp_path, {"m": {"feature": "text", "counts": {}}})
    with pytest.raises(NoveltyError, match="monitor 'm' is text; use a categorical or numeric monitor"):
        NoveltyCheck.load(spec, tmp_path)


# -- records ---------------------------------------------------------------------------------------------


def _emitted(step: str, tier: str, confidence: object, first_correct: object = None) -> str:
    summary: dict[str, Any] = {"step": step, "risk": {"tier": tier}, "confidence": confidence}
    if first_correct is not None:
        summary["first_correct"] = first_correct
    return json.dumps({"dwf.eff": summary})


def test_judged_first_answers_become_records() -> None:
    rows = [
        ("r1", "emitted", _emitted("s", "low", 0.9, True)),
        ("r2", "emitted", _emitted("s", "medium", 1, False)),
        ("r3", "emitted", _emitted("s", "low", 0.5)),  # bypassed, never judged: left out
        ("r4", "emitted", _emitted("s", "low", "high")),  # no numeric confidence
        ("r5", "emitted", json.dumps({"dwf.eff": {"step": "s", "confidence": 0.5}})),  # no risk
        ("r6", "emitted", "not json"),
        ("r7", "emitted", json.dumps([1, 2])),
        ("r8", "emitted", {"dwf.eff": "x"}),
    ]
    assert records_from_rows(rows) == [Record("s", "low", 0.9, True), Record("s", "medium", 1.0, False)]


def test_feedback_and_overrides_outrank_the_verification() -> None:
    rows: list[tuple[str, str, Any]] = [
        ("r1", "emitted", _emitted("s", "low", 0.9, True)),
        ("r2", "emitted", _emitted("s", "low", 0.8)),
        ("r3", "emitted", _emitted("s", "low", 0.7, False)),
        ("r4", "emitted", _emitted("t", "low", 0.6)),
        ("x", "feedback", json.dumps({"run_id": "r1", "step": "s", "correct": False})),
        ("r2", "feedback", {"step": "s", "correct": True}),
        ("r3", "override", {"step": "s", "before": {"d": "a"}, "after": {"d": "a"}}),
        ("r4", "override", {"step": "t", "before": {"d": "a"}, "after": {"d": "b"}}),
        ("r1", "feedback", {"step": "s", "correct": "yes"}),  # not a verdict: ignored
        ("r3", "override", {"step": "s", "before": None, "after": {}}),  # incomplete: ignored
    ]
    assert records_from_rows(rows) == [
        Record("s", "low", 0.9, False),
        Record("s", "low", 0.8, True),
        Record("s", "low", 0.7, True),
        Record("t", "low", 0.6, False),
    ]


def test_feedback_for_another_step_does_not_judge_this_one() -> None:
    rows = [("r1", "emitted", _emitted("s", "low", 0.9)), ("r1", "feedback", {"step": "t", "correct": True})]
    assert records_from_rows(rows) == []
